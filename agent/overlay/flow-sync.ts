// Keeps one bridge's OpenFlow table equal to a desired set of flows. Callers change the desired
// set (set/unset by key); flush() sends only what changed since the last flush (a few flow_mods
// for a few changed keys, whatever the table's size). When what the bridge holds is unknown (first
// sync of this process, or vswitchd restarted and took its flows with it), flush() rewrites the
// whole table: every flow deleted, every desired flow added, in one batch before one barrier.
// The OpenFlow connection is re-opened by itself after vswitchd goes away.
import type { Logger } from 'pino';
import { MerakError, errorMessage } from '@merak/common';
import { type Flow, type FlowMod, OpenFlowConnection } from '../openflow/index.js';
import { flowKey } from './tunnel-flows.js';

/** What the sync needs of an OpenFlow connection (OpenFlowConnection has it). */
export interface FlowConnection {
  apply(mods: ReadonlyArray<FlowMod & { label?: string }>, options?: { bundle?: boolean }): Promise<void>;
  close(): void;
  /** Resolves when the peer closed the connection (vswitchd went away). */
  readonly closed: Promise<void>;
}

export interface FlowSyncOptions {
  /** The bridge's management socket (<OVS_RUNDIR>/<bridge>.mgmt). */
  readonly mgmtPath: string;
  readonly logger: Logger;
  /** After a (re)connection, before the full rewrite: the caller refreshes what depends on vswitchd (ofports, tunnel neighbors). */
  onConnected?(): Promise<void>;
  /** How long a flush waits for vswitchd to come back before failing (the desired set is kept). */
  readonly waitMs?: number;
  /** Opens the connection (tests give a recording one). */
  readonly connect?: (path: string) => Promise<FlowConnection>;
}

export interface FlushOutcome {
  readonly added: number;
  readonly removed: number;
  /** The whole table was rewritten. */
  readonly full: boolean;
}

const defaultConnect = (path: string): Promise<FlowConnection> => OpenFlowConnection.connect(path, { timeoutMs: 5000 });
const text = (f: Flow): string => JSON.stringify(f, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
/** Whether two flows with the same key do the same (compared as text only when they are not the same object). */
const same = (a: Flow, b: Flow): boolean => a === b || text(a) === text(b);
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

export class FlowSync {
  /**
   * Desired flows by key, one element per caller that wants it (two neighbors may share a MAC, and
   * two sources may name the same IP): the last one set is the flow; unset takes out its own.
   */
  private readonly desired = new Map<string, { flow: Flow; others: Flow[] }>();
  /** What the bridge holds, by key (undefined: not known, the next flush rewrites it). */
  private installed: Map<string, Flow> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly dirty = new Set<string>();
  private conn: FlowConnection | undefined;
  private connecting: Promise<FlowConnection> | undefined;
  private closed = false;
  /** Set once a caller has said what the table must be: until then the flows found are left alone. */
  private authoritative = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FlowSyncOptions) {}

  get size(): number {
    return this.desired.size;
  }

  /** Desires `flow` once more (its actions replace those of the flow with the same table, priority and match). */
  set(flow: Flow): void {
    const key = flowKey(flow);
    const d = this.desired.get(key);
    if (d) {
      d.others.push(d.flow);
      d.flow = flow;
    } else {
      this.desired.set(key, { flow, others: [] });
    }
    this.dirty.add(key);
  }

  /** Desires `flow` once less; it goes when nobody wants it. */
  unset(flow: Flow): void {
    const key = flowKey(flow);
    const d = this.desired.get(key);
    if (!d) return;
    if (d.others.length === 0) {
      this.desired.delete(key);
    } else if (same(d.flow, flow)) {
      d.flow = d.others.pop()!;
    } else {
      // Another caller's flow stays the flow; the one taken out is the one that does the same (else the oldest).
      const at = d.others.findIndex((f) => same(f, flow));
      d.others.splice(at >= 0 ? at : 0, 1);
    }
    this.dirty.add(key);
  }

  /** The desired set becomes exactly `flows` (after a change that may touch any flow). */
  replaceAll(flows: Iterable<Flow>): void {
    const before = new Set(this.desired.keys());
    this.desired.clear();
    for (const f of flows) this.set(f);
    for (const key of before) if (!this.desired.has(key)) this.dirty.add(key);
  }

  /** Sends what changed; the first flush after a (re)connection rewrites the whole table. One at a time. */
  flush(): Promise<FlushOutcome> {
    this.authoritative = true;
    const run = this.queue.then(() => this.flushNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<FlushOutcome> {
    const conn = await this.connection();
    const full = this.installed === undefined;
    const mods: Array<FlowMod & { label: string }> = [];
    let removed = 0;
    if (full) {
      mods.push({ command: 'delete', flow: { table: 0xff, priority: 0, cookie: 0n, match: {} }, cookieMask: 0n, label: 'delete every flow' });
      for (const [key, d] of this.desired) mods.push({ command: 'add', flow: d.flow, label: key });
    } else {
      for (const key of this.dirty) {
        const want = this.desired.get(key)?.flow;
        const have = this.installed!.get(key);
        if (want === undefined) {
          if (have === undefined) continue;
          mods.push({ command: 'delete_strict', flow: have, label: key });
          removed++;
        } else if (have === undefined || !same(have, want)) {
          mods.push({ command: 'add', flow: want, label: key });
        }
      }
    }
    const dirty = [...this.dirty];
    this.dirty.clear();
    try {
      // One bundle: atomic (a full rewrite leaves no empty-table gap) and one revalidation in vswitchd.
      if (mods.length > 0) await conn.apply(mods, { bundle: true });
    } catch (e) {
      // What the bridge holds is now uncertain: the next flush rewrites it all.
      this.installed = undefined;
      throw e;
    }
    if (full) {
      this.installed = new Map([...this.desired].map(([k, d]) => [k, d.flow]));
    } else {
      for (const key of dirty) {
        const want = this.desired.get(key)?.flow;
        if (want === undefined) this.installed!.delete(key);
        else this.installed!.set(key, want);
      }
    }
    return { added: mods.filter((m) => m.command === 'add').length, removed: full ? 0 : removed, full };
  }

  private async connection(): Promise<FlowConnection> {
    if (this.conn) return this.conn;
    if (this.closed) throw new MerakError('UNAVAILABLE', 'the tunnel bridge is closed');
    const deadline = Date.now() + (this.opts.waitMs ?? 10_000);
    let delay = RETRY_MIN_MS;
    for (;;) {
      try {
        return await this.connectOnce();
      } catch (e) {
        if (this.closed || Date.now() + delay > deadline) {
          throw new MerakError('UNAVAILABLE', `ovs-vswitchd is not reachable at ${this.opts.mgmtPath}: ${errorMessage(e)} (the neighbor table is kept; its flows follow when vswitchd is back)`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private connectOnce(): Promise<FlowConnection> {
    this.connecting ??= (async () => {
      try {
        const conn = await (this.opts.connect ?? defaultConnect)(this.opts.mgmtPath);
        this.installed = undefined;
        void conn.closed.then(() => this.lost(conn));
        await this.opts.onConnected?.();
        this.conn = conn;
        this.opts.logger.info({ mgmt: this.opts.mgmtPath }, 'OpenFlow connection to the tunnel bridge open');
        return conn;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  /** vswitchd went away (restart): its flows went with it; reconnect and rewrite them. */
  private lost(conn: FlowConnection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.installed = undefined;
    if (this.closed) return;
    this.opts.logger.warn({ mgmt: this.opts.mgmtPath }, 'OpenFlow connection to the tunnel bridge lost: flows are rewritten when vswitchd is back');
    if (this.authoritative) this.scheduleResync(RETRY_MIN_MS);
  }

  private scheduleResync(delay: number): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.flush().then(
        (o) => this.opts.logger.info({ flows: this.desired.size, added: o.added }, 'tunnel bridge flows restored'),
        (e: unknown) => {
          this.opts.logger.warn({ err: errorMessage(e) }, 'tunnel bridge flows not restored yet');
          this.scheduleResync(RETRY_MAX_MS);
        },
      );
    }, delay);
    this.retry.unref();
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.conn?.close();
    this.conn = undefined;
  }
}
