// Every GoalState push the server made, in the order they finished: to which host, what it
// carried, how it ended and what the agent answered. For tests and GET /_merak/pushes.
import type { MessageKind } from './host-message.js';

/**
 * ok: an OK end of call and no FAILURE status. failure: a FAILURE status (or a failure fault).
 * error: the call failed (host unreachable, non-OK status). timeout: no end of call in time.
 * dropped: cancelled by a drop fault. no-address: the node has no local_ip to dial.
 */
export type PushOutcome = 'ok' | 'failure' | 'error' | 'timeout' | 'dropped' | 'no-address';

export interface ReplyStatus {
  readonly resourceId: string;
  readonly resourceType: string;
  readonly operationType: string;
  readonly operationStatus: string;
}

export interface PushRecord {
  /** 1, 2, 3… in the order pushes finished. */
  readonly seq: number;
  /** The node_name of the host. */
  readonly host: string;
  /** HOST:PORT dialled ('' when none). */
  readonly endpoint: string;
  readonly kind: MessageKind;
  /** host_resources as sent, e.g. {type:'NEIGHBOR', id:'L2/<port>'}. */
  readonly resources: ReadonlyArray<{ readonly type: string; readonly id: string }>;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly outcome: PushOutcome;
  /** Why it failed, when it did. */
  readonly error?: string;
  /** Every status of the agent's replies. */
  readonly statuses: readonly ReplyStatus[];
  /** Push fault rules that fired on it. */
  readonly faults: readonly string[];
}

type Listener = (record: PushRecord) => void;

export class PushLog {
  private records: PushRecord[] = [];
  private seq = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly limit = Infinity) {}

  get length(): number {
    return this.records.length;
  }

  /** Every record kept, oldest first (a copy of the list). */
  all(): PushRecord[] {
    return [...this.records];
  }

  forHost(host: string): PushRecord[] {
    return this.records.filter((r) => r.host === host);
  }

  clear(): void {
    this.records = [];
  }

  /** Called with every new record; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal the pusher's side */
  add(record: Omit<PushRecord, 'seq'>): PushRecord {
    const full: PushRecord = { seq: ++this.seq, ...record };
    this.records.push(full);
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
    for (const l of this.listeners) l(full);
    return full;
  }
}
