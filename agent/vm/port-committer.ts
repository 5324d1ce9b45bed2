// Group commit of OVS port changes: requests that arrive while a transaction is in flight go
// together into the next one, so a burst of N VMs costs a few OVSDB transactions, not N. A group
// whose transaction failed (OVSDB applies none of it) is retried one request at a time, so one bad
// port cannot fail its neighbours; a group that committed but that vswitchd did not apply in time
// is not retried (its ports exist: adding them again would fail on their names).
import { VswitchdNotAppliedError } from '../vswitch/vswitch.js';

export interface PortAdd {
  readonly kind: 'add';
  readonly name: string;
  readonly type: '' | 'internal';
  readonly externalIds: Readonly<Record<string, string>>;
  /** The VM's overlay segment (0 = none): whoever applies the change puts the port on its VLAN. */
  readonly vni: number;
  /** Another bridge than the agent's (OVN's integration bridge); undefined = the agent's. */
  readonly bridge?: string;
}

export interface PortRemove {
  readonly kind: 'remove';
  readonly name: string;
  /** The bridge the port is on; undefined = the agent's. */
  readonly bridge?: string;
}

export type PortChange = PortAdd | PortRemove;

/** Applies changes in one transaction and waits for vswitchd; per change, its ofport or an error. */
export type ApplyPortChanges = (changes: readonly PortChange[]) => Promise<Array<{ ofport: number } | { error: Error }>>;

interface Pending {
  readonly change: PortChange;
  resolve(ofport: number): void;
  reject(e: Error): void;
}

/**
 * The most changes in one transaction. ovs-vswitchd's userspace datapath reconfigures over all its
 * ports for each port it adds, so one huge group is slower than a few large ones (3,000 veth ports
 * here: one transaction 11.3 s of vswitchd CPU, groups of 1,000 8.2 s, of 100 16.6 s:
 * `npm run bench:limits`).
 */
export const MAX_GROUP = 1000;

export class PortCommitter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * `maxInFlight` transactions may wait for vswitchd at once: it applies whatever it finds in
   * OVSDB in one reconfiguration, so overlapping groups are cheaper than groups in a row.
   */
  constructor(private readonly apply: ApplyPortChanges, private readonly maxInFlight = 4, private readonly maxGroup = MAX_GROUP) {}

  /** Adds a port to the bridge; resolves to its ofport once vswitchd applied it. */
  add(name: string, type: PortAdd['type'], externalIds: Readonly<Record<string, string>>, vni = 0, bridge?: string): Promise<number> {
    return this.enqueue({ kind: 'add', name, type, externalIds, vni, ...(bridge === undefined ? {} : { bridge }) });
  }

  /** Removes a port (absent is fine) from `bridge` (default: the agent's). */
  async remove(name: string, bridge?: string): Promise<void> {
    await this.enqueue({ kind: 'remove', name, ...(bridge === undefined ? {} : { bridge }) });
  }

  private enqueue(change: PortChange): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ change, resolve, reject });
      this.schedule();
    });
  }

  // setImmediate lets every VM that reached this stage in the same tick join the group.
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
      const group = this.queue.splice(0, this.maxGroup);
      this.inFlight++;
      void this.commit(group).finally(() => {
        this.inFlight--;
        this.schedule();
      });
      this.schedule();
    });
  }

  private async commit(group: Pending[]): Promise<void> {
    let outcomes: Array<{ ofport: number } | { error: Error }>;
    try {
      outcomes = await this.apply(group.map((p) => p.change));
    } catch (e) {
      if (group.length === 1 || e instanceof VswitchdNotAppliedError) {
        for (const p of group) p.reject(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      // The transaction as a whole failed (one bad op aborts all): isolate the culprit.
      for (const p of group) await this.commit([p]);
      return;
    }
    group.forEach((p, i) => {
      const o = outcomes[i]!;
      if ('error' in o) p.reject(o.error);
      else p.resolve(o.ofport);
    });
  }
}
