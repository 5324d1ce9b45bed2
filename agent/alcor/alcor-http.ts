// JSON over HTTP to Alcor's services, the way its clients need it: a deadline per call, retries
// with backoff only where repeating is safe, and every call (retries included) timed and kept for
// the report. An answer Alcor did not expect to give (a status other than the one the endpoint
// promises) is an AlcorError carrying the status and body, so a failed VM says what Alcor said.
import { setTimeout as sleep } from 'node:timers/promises';
import { MerakError } from '../errors.js';

/** One call as the report counts it: `endpoint` is the path template ("POST /project/{p}/ports"). */
export interface AlcorCall {
  readonly endpoint: string;
  readonly micros: number;
  /** HTTP status; 0 when there was none (timeout, connection dropped or refused). */
  readonly status: number;
  readonly error: string;
}

export class AlcorError extends MerakError {
  constructor(
    readonly endpoint: string,
    readonly url: string,
    /** 0: no HTTP answer */
    readonly status: number,
    readonly body: string,
    readonly reason: string,
  ) {
    super('ALCOR', `Alcor ${endpoint} (${url}): ${reason}${body ? `: ${body.length > 500 ? `${body.slice(0, 500)}…` : body}` : ''}`, { context: { endpoint, status } });
  }

  /** Worth another try: no answer at all, or Alcor (or what stands in front of it) failing. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface AlcorHttpOptions {
  /** Per call. */
  readonly timeoutMs: number;
  /** Further attempts after a transient failure of a call that is safe to repeat. */
  readonly retries: number;
  readonly backoffMs?: number;
  /** Every call, retries included. */
  readonly onCall?: (call: AlcorCall) => void;
}

export interface AlcorRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The service's base URL. */
  readonly base: string;
  readonly path: string;
  /** The path with its ids as placeholders, for the report. */
  readonly template: string;
  readonly body?: unknown;
  /** The statuses that mean success. */
  readonly expect: readonly number[];
  /** Statuses that mean "already gone" on a delete (tolerated, reported as such). */
  readonly absent?: readonly number[];
  /** Safe to send again after a transient failure (GET, PUT, DELETE; a POST with a client-chosen id). */
  readonly idempotent: boolean;
}

export interface AlcorResponse {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
  /** The status was one of `absent`. */
  readonly absent: boolean;
}

export class AlcorHttp {
  constructor(private readonly opts: AlcorHttpOptions) {}

  async call(req: AlcorRequest): Promise<AlcorResponse> {
    const endpoint = `${req.method} ${req.template}`;
    const attempts = req.idempotent ? this.opts.retries + 1 : 1;
    let last: AlcorError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep((this.opts.backoffMs ?? 200) * 2 ** (attempt - 1) * (0.5 + Math.random()));
      try {
        return await this.once(req, endpoint);
      } catch (e) {
        if (!(e instanceof AlcorError) || !e.transient) throw e;
        last = e;
      }
    }
    if (attempts === 1) throw last!;
    throw new AlcorError(last!.endpoint, last!.url, last!.status, last!.body, `${last!.reason} (after ${attempts} attempts)`);
  }

  private async once(req: AlcorRequest, endpoint: string): Promise<AlcorResponse> {
    const url = `${req.base}${req.path}`;
    const started = process.hrtime.bigint();
    const micros = (): number => Number((process.hrtime.bigint() - started) / 1000n);
    let status = 0;
    let text = '';
    try {
      const res = await fetch(url, {
        method: req.method,
        headers: req.body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const reason = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs} ms` : `no answer: ${causeOf(e)}`;
      this.opts.onCall?.({ endpoint, micros: micros(), status: 0, error: reason });
      throw new AlcorError(endpoint, url, 0, '', reason);
    }
    const absent = req.absent?.includes(status) ?? false;
    if (!req.expect.includes(status) && !absent) {
      const reason = `answered ${status}, expected ${req.expect.join(' or ')}`;
      this.opts.onCall?.({ endpoint, micros: micros(), status, error: reason });
      throw new AlcorError(endpoint, url, status, text, reason);
    }
    this.opts.onCall?.({ endpoint, micros: micros(), status, error: '' });
    let json: unknown;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = undefined;
    }
    return { status, json, text, absent };
  }
}

function causeOf(e: unknown): string {
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
