// This vhost's neighbor table: per VNI, the VMs the control plane says exist (IP -> MAC and the
// underlay address of the vhost holding the VM). It is the truth the tunnel bridge's flows are
// computed from: a change returns exactly the entries it touched, so the flows follow the change
// (a few flow_mods), never the size of the table. Pure: no I/O.

export interface NeighborEntry {
  readonly vni: number;
  readonly ip: string;
  readonly mac: string;
  /** The underlay address of the vhost the VM is on (this vhost's own: a local VM). */
  readonly hostIp: string;
}

export interface NeighborKey {
  readonly vni: number;
  readonly ip: string;
}

/** A change as the control plane sends it (validated). */
export interface NeighborChange {
  readonly upsert: readonly NeighborEntry[];
  readonly remove: readonly NeighborKey[];
  /** The table becomes exactly `upsert`. */
  readonly replace: boolean;
}

/** What a change did: the entries gone or replaced (`before`) and the ones now there (`after`). */
export interface NeighborDelta {
  readonly before: readonly NeighborEntry[];
  readonly after: readonly NeighborEntry[];
}

const same = (a: NeighborEntry, b: NeighborEntry): boolean => a.mac === b.mac && a.hostIp === b.hostIp;

export class NeighborTable {
  private readonly byVni = new Map<number, Map<string, NeighborEntry>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(vni: number, ip: string): NeighborEntry | undefined {
    return this.byVni.get(vni)?.get(ip);
  }

  /** Every entry, VNI by VNI. */
  *entries(): IterableIterator<NeighborEntry> {
    for (const m of this.byVni.values()) yield* m.values();
  }

  /** The entries of one VNI. */
  *inVni(vni: number): IterableIterator<NeighborEntry> {
    const m = this.byVni.get(vni);
    if (m) yield* m.values();
  }

  vnis(): number[] {
    return [...this.byVni.keys()];
  }

  /** Applies a change; an entry upserted unchanged is in neither list. */
  apply(change: NeighborChange): NeighborDelta {
    const before: NeighborEntry[] = [];
    const after: NeighborEntry[] = [];
    if (change.replace) {
      const wanted = new Map<string, NeighborEntry>(change.upsert.map((e) => [`${e.vni}/${e.ip}`, e]));
      for (const e of [...this.entries()]) {
        const w = wanted.get(`${e.vni}/${e.ip}`);
        if (!w || !same(w, e)) this.delete(e, before);
      }
    }
    for (const k of change.remove) {
      const e = this.get(k.vni, k.ip);
      if (e) this.delete(e, before);
    }
    for (const e of change.upsert) {
      const old = this.get(e.vni, e.ip);
      if (old && same(old, e)) continue;
      if (old) this.delete(old, before);
      const m = this.byVni.get(e.vni) ?? this.byVni.set(e.vni, new Map()).get(e.vni)!;
      m.set(e.ip, e);
      this.count++;
      after.push(e);
    }
    return { before, after };
  }

  private delete(e: NeighborEntry, into: NeighborEntry[]): void {
    const m = this.byVni.get(e.vni);
    if (!m?.delete(e.ip)) return;
    this.count--;
    if (m.size === 0) this.byVni.delete(e.vni);
    into.push(e);
  }
}
