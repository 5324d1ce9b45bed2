import { describe, expect, it } from 'vitest';
import { VLAN_MAX, VlanMap } from './vlan-map.js';

describe('VlanMap', () => {
  it('gives each new VNI the lowest free VLAN, and the same VLAN again for a known VNI', () => {
    const m = new VlanMap();
    expect([m.acquire(1002), m.acquire(1001), m.acquire(1002), m.acquire(7)]).toEqual([1, 2, 1, 3]);
    expect(m.get(1001)).toBe(2);
    expect(m.get(9)).toBeUndefined();
  });

  it('starts from the recorded map, skipping tags other ports use', () => {
    // As recovered after a restart: 1002 had VLAN 1, 1001 VLAN 3; a foreign port uses tag 2.
    const m = new VlanMap([[1002, 1], [1001, 3]], [2]);
    expect(m.acquire(1001)).toBe(3);
    expect(m.acquire(1003)).toBe(4);
    expect(m.acquire(1004)).toBe(5);
    // A VNI recorded twice keeps its first VLAN; a VLAN claimed twice stays with its first VNI.
    const odd = new VlanMap([[5, 10], [5, 11], [6, 10]]);
    expect(odd.entries()).toEqual([[5, 10]]);
    expect(odd.acquire(6)).toBe(1);
  });

  it('has 4094 VLANs, then none', () => {
    const m = new VlanMap();
    for (let vni = 1; vni <= VLAN_MAX; vni++) expect(m.acquire(vni)).toBe(vni);
    expect(m.free()).toBe(0);
    expect(m.acquire(5000)).toBeUndefined();
    expect(m.acquire(17)).toBe(17);
  });

  it('gives back, when collecting, only VLANs of VNIs neither in use nor pinned', () => {
    const m = new VlanMap([], [], 1, 4);
    for (const vni of [10, 20, 30, 40]) m.acquire(vni);
    const release = m.pin([30]);
    expect(m.collect(new Set([10]), [2])).toEqual([20, 40]);
    // 20's VLAN (2) is now a foreign port's tag; 40's (4) is free again.
    expect(m.acquire(50)).toBe(4);
    expect(m.acquire(60)).toBeUndefined();
    release();
    release(); // twice is harmless
    expect(m.collect(new Set([10, 50]), [])).toEqual([30]);
    expect([m.acquire(60), m.acquire(70)]).toEqual([2, 3]);
  });
});
