// JSON over HTTP to Alcor's services, the way its clients need it: a deadline per call, retries
// with bounded backoff (retry.ts) only where repeating is safe, and every call (retries included,
// and marked so) timed and kept for the report. An answer Alcor did not expect to give (a status other than the one the endpoint
// promises) is an AlcorError carrying the status and body, so a failed VM says what Alcor said.
import { setTimeout as sleep } from 'node:timers/promises';
import { MerakError, errorMessage } from '../errors.js';
import { type RetryEvent, type RetryPolicy, backoffMs } from './retry.js';

/** One call as the report counts it: `endpoint` is the path template ("POST /project/{p}/ports"). */
export interface AlcorCall {
  readonly endpoint: string;
  readonly micros: number;
  /** HTTP status; 0 when there was none (timeout, connection dropped or refused). */
  readonly status: number;
  readonly error: string;
  /** Sent again after a failed attempt of the same call. */
  readonly retry?: boolean;
}

export class AlcorError extends MerakError {
  constructor(
    readonly endpoint: string,
    readonly url: string,
    /** 0: no HTTP answer */
    readonly status: number,
    readonly body: string,
    readonly reason: string,
    /** No answer within the deadline: the request may still be on its way into Alcor. */
    readonly timedOut = false,
  ) {
    super('ALCOR', `Alcor ${endpoint} (${url}): ${reason}${body ? `: ${body.length > 500 ? `${body.slice(0, 500)}…` : body}` : ''}`, { context: { endpoint, status } });
  }

  /** Worth another try: no answer at all (timeout, reset, refused), or Alcor (or what stands in front of it) failing. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  /** The same failure, saying how many attempts it took. */
  afterAttempts(attempts: number): AlcorError {
    return attempts <= 1 ? this : new AlcorError(this.endpoint, this.url, this.status, this.body, `${this.reason} (after ${attempts} attempts)`, this.timedOut);
  }
}

export interface AlcorHttpOptions extends RetryPolicy {
  /** Per call. */
  readonly timeoutMs: number;
  /** Every call, retries included. */
  readonly onCall?: (call: AlcorCall) => void;
  /** Each retry, before its wait (to log it). */
  readonly onRetry?: (retry: RetryEvent) => void;
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
  /** Safe to send again after a transient failure (GET, PUT, DELETE; an upsert). */
  readonly idempotent: boolean;
  /** This call repeats an attempt that failed (a create tried again by its caller): marked so in the report. */
  readonly retry?: boolean;
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

  get policy(): RetryPolicy {
    return this.opts;
  }

  /** Tells the listener a retry is about to happen, and waits its backoff. */
  async retryWait(endpoint: string, attempt: number, failure: AlcorError): Promise<void> {
    const delayMs = backoffMs(this.opts, attempt);
    this.opts.onRetry?.({ endpoint, attempt, retries: this.opts.retries, delayMs, status: failure.status, reason: failure.reason });
    await sleep(delayMs);
  }

  async call(req: AlcorRequest): Promise<AlcorResponse> {
    const endpoint = `${req.method} ${req.template}`;
    const attempts = req.idempotent ? this.opts.retries + 1 : 1;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(req, endpoint, attempt > 0 || req.retry === true);
      } catch (e) {
        if (!(e instanceof AlcorError) || !e.transient) throw e;
        if (attempt + 1 >= attempts) throw e.afterAttempts(attempt + 1);
        await this.retryWait(endpoint, attempt + 1, e);
      }
    }
  }

  private async once(req: AlcorRequest, endpoint: string, retry: boolean): Promise<AlcorResponse> {
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
      const timedOut = e instanceof Error && e.name === 'TimeoutError';
      const reason = timedOut ? `no answer within ${this.opts.timeoutMs} ms` : `no answer: ${causeOf(e)}`;
      this.opts.onCall?.({ endpoint, micros: micros(), status: 0, error: reason, ...mark(retry) });
      throw new AlcorError(endpoint, url, 0, '', reason, timedOut);
    }
    const absent = req.absent?.includes(status) ?? false;
    if (!req.expect.includes(status) && !absent) {
      const reason = `answered ${status}, expected ${req.expect.join(' or ')}`;
      this.opts.onCall?.({ endpoint, micros: micros(), status, error: reason, ...mark(retry) });
      throw new AlcorError(endpoint, url, status, text, reason);
    }
    this.opts.onCall?.({ endpoint, micros: micros(), status, error: '', ...mark(retry) });
    let json: unknown;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = undefined;
    }
    return { status, json, text, absent };
  }
}

const mark = (retry: boolean): { retry?: true } => (retry ? { retry: true } : {});

function causeOf(e: unknown): string {
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? errorMessage(e);
}
