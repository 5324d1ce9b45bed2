// The call log: every request the emulated Alcor answered (or dropped), in arrival order, with
// what the client sent and what it got back — what a test asserts on after driving a client.
import type { AlcorService } from './entities.js';
import type { FaultAction, FaultPhase } from './faults.js';

export interface AppliedFault {
  readonly ruleId: string;
  readonly kind: FaultAction['kind'];
  readonly phase: FaultPhase;
}

export interface CallRecord {
  /** 1, 2, 3… in arrival order (also across reset()). */
  readonly seq: number;
  /** The service whose route matched; undefined when no route did (a 404/405). */
  readonly service: AlcorService | undefined;
  /** The listener that took the call: its service in node-ports mode, 'all' in single mode. */
  readonly listener: AlcorService | 'all';
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** The raw query string without '?', '' when none. */
  readonly query: string;
  /** The matched route template, e.g. 'PUT /project/{project_id}/ports/{port_id}'. */
  readonly route: string | undefined;
  /** The request body: parsed JSON, the raw text when it is not JSON, undefined when empty. */
  readonly requestBody: unknown;
  /** The status sent; undefined when the connection was dropped. */
  readonly status: number | undefined;
  /** The response body: parsed JSON, text for text/plain answers, undefined when empty or dropped. */
  readonly responseBody: unknown;
  /** Faults that fired on this call, in the order they took effect. */
  readonly faults: readonly AppliedFault[];
  readonly dropped: boolean;
  /** Epoch milliseconds (fractional): when the request arrived and when the answer was sent. */
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface CallFilter {
  readonly service?: AlcorService;
  readonly method?: string;
  /** An exact path, or a RegExp tested against the path. */
  readonly path?: string | RegExp;
  readonly status?: number;
}

export function callMatches(call: CallRecord, f: CallFilter): boolean {
  if (f.service !== undefined && call.service !== f.service) return false;
  if (f.method !== undefined && call.method !== f.method.toUpperCase()) return false;
  if (f.status !== undefined && call.status !== f.status) return false;
  if (f.path !== undefined && (typeof f.path === 'string' ? call.path !== f.path : !f.path.test(call.path))) return false;
  return true;
}

type Listener = (call: CallRecord) => void;

export class CallLog {
  private records: CallRecord[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly limit: number;

  /** Keeps the newest `limit` records (all by default). */
  constructor(limit = Infinity) {
    this.limit = limit;
  }

  get length(): number {
    return this.records.length;
  }

  /** Every record kept, oldest first (a copy of the list). */
  all(): CallRecord[] {
    return [...this.records];
  }

  filter(f: CallFilter): CallRecord[] {
    return this.records.filter((c) => callMatches(c, f));
  }

  last(f: CallFilter = {}): CallRecord | undefined {
    for (let i = this.records.length - 1; i >= 0; i--) if (callMatches(this.records[i]!, f)) return this.records[i];
    return undefined;
  }

  clear(): void {
    this.records = [];
  }

  /** Called with every new record; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once `count` records match (counting those already kept); rejects after `timeoutMs`. */
  waitFor(f: CallFilter, count = 1, timeoutMs = 10_000): Promise<CallRecord[]> {
    const found = this.filter(f);
    if (found.length >= count) return Promise.resolve(found.slice(0, count));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`waitFor: ${found.length} of ${count} matching calls after ${timeoutMs} ms (${JSON.stringify({ ...f, path: String(f.path) })})`));
      }, timeoutMs);
      const unsubscribe = this.subscribe((call) => {
        if (!callMatches(call, f)) return;
        found.push(call);
        if (found.length >= count) {
          clearTimeout(timer);
          unsubscribe();
          resolve(found.slice(0, count));
        }
      });
    });
  }

  /** @internal the server's side */
  add(call: CallRecord): void {
    this.records.push(call);
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
    for (const l of this.listeners) l(call);
  }
}
