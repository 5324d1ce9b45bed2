import { describe, expect, it } from 'vitest';
import { membersDiff, packMembers, sameTunnels, tunnelGroupsOf, tunnelSetOf, tunnelSets, unpackGroups, vniMembers } from './membership.js';

describe('tunnelSets', () => {
  const ips: Record<string, string> = { h0: '198.51.100.10', h1: '198.51.100.11', h2: '198.51.100.12', hollow: '' };
  const ip = (h: string): string | undefined => ips[h];

  it('meshes the vhosts of each VNI, and nothing across VNIs', () => {
    const mac = (h: string): string | undefined => (h === 'h1' ? '02:00:00:00:00:11' : undefined);
    const sets = tunnelSets(new Map([['h0', new Set([1001, 1002])], ['h1', new Set([1001])], ['h2', new Set([1002])]]), ip, mac);
    expect(sets.get('h0')).toEqual([{ remoteIp: '198.51.100.11', vni: 1001, remoteMac: '02:00:00:00:00:11' }, { remoteIp: '198.51.100.12', vni: 1002, remoteMac: '' }]);
    expect(sets.get('h1')).toEqual([{ remoteIp: '198.51.100.10', vni: 1001, remoteMac: '' }]);
    expect(sets.get('h2')).toEqual([{ remoteIp: '198.51.100.10', vni: 1002, remoteMac: '' }]);
  });

  it('leaves out vhosts without an endpoint, and gives a lone vhost an empty set', () => {
    const sets = tunnelSets(new Map([['h0', new Set([7])], ['hollow', new Set([7])], ['h1', new Set([8])]]), ip);
    expect([...sets.keys()].sort()).toEqual(['h0', 'h1']);
    expect(sets.get('h0')).toEqual([]);
  });

  it('compares sets', () => {
    expect(sameTunnels(undefined, [])).toBe(false);
    expect(sameTunnels([{ remoteIp: 'a', vni: 1, remoteMac: '' }], [{ remoteIp: 'a', vni: 1, remoteMac: '' }])).toBe(true);
    expect(sameTunnels([{ remoteIp: 'a', vni: 1, remoteMac: '' }], [{ remoteIp: 'a', vni: 2, remoteMac: '' }])).toBe(false);
    // A peer that came back with another MAC (a new br-phy) must be told again.
    expect(sameTunnels([{ remoteIp: 'a', vni: 1, remoteMac: '02:00:00:00:00:01' }], [{ remoteIp: 'a', vni: 1, remoteMac: '02:00:00:00:00:02' }])).toBe(false);
  });
});

describe('vniMembers, tunnelSetOf', () => {
  it('lists each VNI’s members once, sorted by address, and makes a vhost’s set from them without itself', () => {
    const ip = (h: string): string | undefined => ({ a: '10.9.0.3', b: '10.9.0.1', c: '10.9.0.2', d: '' })[h];
    const live = new Map([['a', new Set([5, 6])], ['b', new Set([5])], ['c', new Set([6, 5])], ['d', new Set([5])]]);
    const members = vniMembers(live, ip);
    expect(members.get(5)!.hosts).toEqual(['b', 'c', 'a']);
    expect(members.get(6)!.hosts).toEqual(['c', 'a']);
    expect(tunnelSetOf('c', live.get('c')!, members)).toEqual([{ remoteIp: '10.9.0.1', vni: 5, remoteMac: '' }, { remoteIp: '10.9.0.3', vni: 5, remoteMac: '' }, { remoteIp: '10.9.0.3', vni: 6, remoteMac: '' }]);
    // The entries are the members' own objects, shared by every set.
    expect(tunnelSetOf('a', live.get('a')!, members)[0]).toBe(members.get(5)!.tunnels[0]);
    expect(tunnelSets(live, ip).get('c')).toEqual(tunnelSetOf('c', live.get('c')!, members));
  });
});

describe('membersDiff', () => {
  const ips: Record<string, string> = { h0: '198.51.100.10', h1: '198.51.100.11', h2: '198.51.100.12', h3: '198.51.100.13' };
  const members = (hosts: string[], ip = (h: string): string | undefined => ips[h]): ReturnType<typeof vniMembers> => vniMembers(new Map(hosts.map((h) => [h, new Set([7])])), ip);
  const short = (d: ReturnType<typeof membersDiff>): { upsert: string[]; remove: string[] } => ({ upsert: d.upsert.map((m) => `${m.host} ${m.tunnel.remoteIp}`), remove: d.remove.map((m) => `${m.host} ${m.tunnel.remoteIp}`) });

  it('says who came, who went and who moved, matched by vhost', () => {
    expect(short(membersDiff(members(['h0', 'h1']).get(7), members(['h0', 'h1', 'h2']).get(7)))).toEqual({ upsert: ['h2 198.51.100.12'], remove: [] });
    expect(short(membersDiff(members(['h0', 'h1', 'h2']).get(7), members(['h0', 'h2']).get(7)))).toEqual({ upsert: [], remove: ['h1 198.51.100.11'] });
    expect(short(membersDiff(members(['h0', 'h1']).get(7), undefined))).toEqual({ upsert: [], remove: ['h0 198.51.100.10', 'h1 198.51.100.11'] });
    const moved = members(['h0', 'h1'], (h) => (h === 'h1' ? '198.51.100.99' : ips[h]));
    expect(short(membersDiff(members(['h0', 'h1']).get(7), moved.get(7)))).toEqual({ upsert: ['h1 198.51.100.99'], remove: ['h1 198.51.100.11'] });
    // h3 takes the address h1 left: an upsert of it, no remove of the same address.
    const taken = members(['h0', 'h3'], (h) => (h === 'h3' ? ips.h1 : ips[h]));
    expect(short(membersDiff(members(['h0', 'h1']).get(7), taken.get(7)))).toEqual({ upsert: ['h3 198.51.100.11'], remove: [] });
  });
});

describe('packMembers, tunnelGroupsOf', () => {
  it('packs each VNI once; a member’s groups are its whole set without its own entry, MACs where known', () => {
    const ip = (h: string): string => `10.9.0.${Number(h.slice(1)) + 1}`;
    const mac = (h: string): string | undefined => (h === 'h1' ? '02:00:00:00:00:11' : undefined);
    const live = new Map([['h0', new Set([5, 6])], ['h1', new Set([5])], ['h2', new Set([5, 6])], ['h3', new Set([6])]]);
    const members = vniMembers(live, ip, mac);
    const packed = new Map([...members].map(([v, m]) => [v, packMembers(m)]));
    expect(packed.get(5)!.ips.length).toBe(12);
    expect(packed.get(5)!.macs.length).toBe(18);
    expect(packed.get(6)!.macs.length).toBe(0);
    for (const [h, vnis] of live) {
      const { groups, size } = tunnelGroupsOf(h, vnis, (v) => packed.get(v));
      expect(unpackGroups(groups, ip(h)), h).toEqual(tunnelSetOf(h, vnis, members));
      // Every member is sent the same bytes: nothing is copied per set.
      for (const g of groups) expect(g.remoteIpv4).toBe(packed.get(g.vni)!.ips);
      expect(size, h).toBe(tunnelSetOf(h, vnis, members).length);
    }
    expect(unpackGroups([{ vni: 5, remoteIpv4: packed.get(5)!.ips, remoteMac: packed.get(5)!.macs }]).map((t) => t.remoteIp)).toEqual(['10.9.0.1', '10.9.0.2', '10.9.0.3']);
  });
});
