import { describe, expect, it } from 'vitest';
import { sameTunnels, tunnelSets } from './tunnels.js';

describe('tunnelSets', () => {
  const ips: Record<string, string> = { h0: '198.51.100.10', h1: '198.51.100.11', h2: '198.51.100.12', hollow: '' };
  const ip = (h: string): string | undefined => ips[h];

  it('meshes the vhosts of each VNI, and nothing across VNIs', () => {
    const sets = tunnelSets(new Map([['h0', new Set([1001, 1002])], ['h1', new Set([1001])], ['h2', new Set([1002])]]), ip);
    expect(sets.get('h0')).toEqual([{ remoteIp: '198.51.100.11', vni: 1001 }, { remoteIp: '198.51.100.12', vni: 1002 }]);
    expect(sets.get('h1')).toEqual([{ remoteIp: '198.51.100.10', vni: 1001 }]);
    expect(sets.get('h2')).toEqual([{ remoteIp: '198.51.100.10', vni: 1002 }]);
  });

  it('leaves out vhosts without an endpoint, and gives a lone vhost an empty set', () => {
    const sets = tunnelSets(new Map([['h0', new Set([7])], ['hollow', new Set([7])], ['h1', new Set([8])]]), ip);
    expect([...sets.keys()].sort()).toEqual(['h0', 'h1']);
    expect(sets.get('h0')).toEqual([]);
  });

  it('compares sets', () => {
    expect(sameTunnels(undefined, [])).toBe(false);
    expect(sameTunnels([{ remoteIp: 'a', vni: 1 }], [{ remoteIp: 'a', vni: 1 }])).toBe(true);
    expect(sameTunnels([{ remoteIp: 'a', vni: 1 }], [{ remoteIp: 'a', vni: 2 }])).toBe(false);
  });
});
