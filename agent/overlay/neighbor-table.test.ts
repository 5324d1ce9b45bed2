import { describe, expect, it } from 'vitest';
import { type NeighborEntry, NeighborTable } from './neighbor-table.js';

const e = (vni: number, ip: string, mac: string, hostIp = '198.51.100.2'): NeighborEntry => ({ vni, ip, mac, hostIp });

describe('NeighborTable', () => {
  it('reports exactly the entries a change touched', () => {
    const t = new NeighborTable();
    const a = e(1001, '10.1.0.2', '02:00:00:00:00:02');
    const b = e(1001, '10.1.0.3', '02:00:00:00:00:03');
    const sameIpOtherVni = e(1002, '10.1.0.2', '02:00:00:00:01:02');
    expect(t.apply({ upsert: [a, b, sameIpOtherVni], remove: [], replace: false })).toEqual({ before: [], after: [a, b, sameIpOtherVni] });
    expect(t.size).toBe(3);
    // The same entries again: nothing to do.
    expect(t.apply({ upsert: [a, b], remove: [], replace: false })).toEqual({ before: [], after: [] });
    // A VM that moved to another vhost replaces its entry.
    const moved = { ...b, hostIp: '198.51.100.3' };
    expect(t.apply({ upsert: [moved], remove: [], replace: false })).toEqual({ before: [b], after: [moved] });
    // Removing by (VNI, IP) touches that VNI only; an unknown key is no error.
    expect(t.apply({ upsert: [], remove: [{ vni: 1002, ip: '10.1.0.2' }, { vni: 7, ip: '10.9.9.9' }], replace: false })).toEqual({ before: [sameIpOtherVni], after: [] });
    expect(t.get(1001, '10.1.0.2')).toEqual(a);
    expect(t.vnis()).toEqual([1001]);
  });

  it('becomes exactly the upserted set on replace, touching only what differs', () => {
    const t = new NeighborTable();
    const a = e(1001, '10.1.0.2', '02:00:00:00:00:02');
    const b = e(1001, '10.1.0.3', '02:00:00:00:00:03');
    const c = e(1003, '10.3.0.2', '02:00:00:00:03:02');
    t.apply({ upsert: [a, b], remove: [], replace: false });
    expect(t.apply({ upsert: [a, c], remove: [], replace: true })).toEqual({ before: [b], after: [c] });
    expect([...t.entries()]).toEqual([a, c]);
    expect(t.apply({ upsert: [], remove: [], replace: true })).toEqual({ before: [a, c], after: [] });
    expect(t.size).toBe(0);
    expect(t.vnis()).toEqual([]);
  });
});
