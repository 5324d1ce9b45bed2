// This vhost's VNI -> local VLAN map. VLAN ids are local to br-int (only the VNI travels between
// vhosts), given lowest-free first. The map lives in memory, seeded at start from the tags of the
// ports that carry a VNI (so a restarted agent keeps it), and a VLAN is given back only when the
// map is full: then every VNI that no port uses and no change in flight holds is forgotten.
export const VLAN_MIN = 1;
export const VLAN_MAX = 4094;

export class VlanMap {
  private readonly vlanOf = new Map<number, number>();
  private readonly taken = new Set<number>();
  private reserved = new Set<number>();
  private readonly pins = new Map<number, number>();
  /** No VLAN below this one is free (a search hint; assignment is always lowest-free). */
  private low: number;

  /**
   * `entries`: VNI -> VLAN as recorded on ports (the first VLAN seen for a VNI, and the first VNI
   * seen for a VLAN, win); `reserved`: tags used by ports that are not ours.
   */
  constructor(entries: Iterable<readonly [number, number]> = [], reserved: Iterable<number> = [], readonly min = VLAN_MIN, readonly max = VLAN_MAX) {
    this.low = min;
    this.reserved = new Set(reserved);
    for (const [vni, vlan] of entries) {
      if (this.vlanOf.has(vni) || this.taken.has(vlan) || vlan < min || vlan > max) continue;
      this.vlanOf.set(vni, vlan);
      this.taken.add(vlan);
    }
  }

  get(vni: number): number | undefined {
    return this.vlanOf.get(vni);
  }

  /** How many VNIs could still get a VLAN. */
  free(): number {
    let n = 0;
    for (let v = this.low; v <= this.max; v++) if (!this.taken.has(v) && !this.reserved.has(v)) n++;
    return n;
  }

  /** The VNI's VLAN, assigning the lowest free one if it has none; undefined when none is free. */
  acquire(vni: number): number | undefined {
    const known = this.vlanOf.get(vni);
    if (known !== undefined) return known;
    for (let v = this.low; v <= this.max; v++) {
      if (this.taken.has(v) || this.reserved.has(v)) continue;
      this.vlanOf.set(vni, v);
      this.taken.add(v);
      this.low = v + 1;
      return v;
    }
    this.low = this.max + 1;
    return undefined;
  }

  /** Holds `vnis` against collection until the returned function is called (a change in flight). */
  pin(vnis: Iterable<number>): () => void {
    const held = [...vnis];
    for (const v of held) this.pins.set(v, (this.pins.get(v) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const v of held) {
        const n = (this.pins.get(v) ?? 1) - 1;
        if (n === 0) this.pins.delete(v);
        else this.pins.set(v, n);
      }
    };
  }

  /**
   * Forgets every VNI that is neither in `inUse` nor pinned, and replaces the reserved tags.
   * Returns the VNIs forgotten.
   */
  collect(inUse: ReadonlySet<number>, reserved: Iterable<number>): number[] {
    this.reserved = new Set(reserved);
    const forgotten: number[] = [];
    for (const [vni, vlan] of this.vlanOf) {
      if (inUse.has(vni) || this.pins.has(vni)) continue;
      this.vlanOf.delete(vni);
      this.taken.delete(vlan);
      forgotten.push(vni);
    }
    // A reserved tag may now also be one of ours (a foreign port appeared on it): keep ours, it was first.
    this.low = this.min;
    return forgotten;
  }

  entries(): Array<[number, number]> {
    return [...this.vlanOf.entries()];
  }
}
