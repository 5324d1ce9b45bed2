import { describe, expect, it } from 'vitest';
import { sameTunnels, tunnelSets } from './membership.js';

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
