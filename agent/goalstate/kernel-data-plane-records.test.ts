import { describe, expect, it } from 'vitest';
import type { GoalStateNeighbor } from './contracts.js';
import { changeRecords, readRecords, recordKey, recordValue, tunnelsFor } from './kernel-data-plane-records.js';

const n = (vni: number, ip: string, hostIp: string, mac = '02:00:00:00:00:01', hostMac = ''): GoalStateNeighbor => ({ vni, ip, mac, hostIp, hostMac });
const byKey = (list: GoalStateNeighbor[]): Map<string, GoalStateNeighbor> => new Map(list.map((x) => [`${x.vni}/${x.ip}`, x]));

describe('GoalState neighbor records', () => {
  it('round-trip through external_ids, and a key that does not parse is named, not read', () => {
    const a = n(5001, '10.0.0.2', '198.51.100.2', '02:00:00:00:00:02', '02:aa:00:00:00:02');
    const b = n(5002, '10.0.0.3', '198.51.100.3');
    const ids = { [recordKey(a)]: recordValue(a), [recordKey(b)]: recordValue(b), 'merak-vhost': 'vh-0', 'merak-gs/x/10.0.0.9': 'm,h,' };
    expect(recordKey(a)).toBe('merak-gs/5001/10.0.0.2');
    expect(recordValue(b)).toBe('02:00:00:00:00:01,198.51.100.3,');
    expect(readRecords(ids)).toEqual({ neighbors: [a, b], unreadable: ['merak-gs/x/10.0.0.9'] });
  });

  it('turn a change into the keys to set and remove; an unchanged upsert, or a remove and upsert of the same, is no change', () => {
    const a = n(5001, '10.0.0.2', '198.51.100.2');
    const b = n(5001, '10.0.0.3', '198.51.100.2');
    const records = byKey([a, b]);
    const moved = { ...b, hostIp: '198.51.100.3' };
    const c = changeRecords(records, [a, moved, n(5001, '10.0.0.4', '198.51.100.3')], [{ vni: 5001, ip: '10.0.0.2' }, { vni: 5001, ip: '10.0.0.99' }]);
    expect(c.set).toEqual({ 'merak-gs/5001/10.0.0.3': '02:00:00:00:00:01,198.51.100.3,', 'merak-gs/5001/10.0.0.4': '02:00:00:00:00:01,198.51.100.3,' });
    expect(c.remove).toEqual([]);
    expect(c.removed).toEqual([]);
    expect(c.upserted.map((x) => x.ip)).toEqual(['10.0.0.3', '10.0.0.4']);
    expect([...c.next.keys()].sort()).toEqual(['5001/10.0.0.2', '5001/10.0.0.3', '5001/10.0.0.4']);
    const gone = changeRecords(c.next, [], [{ vni: 5001, ip: '10.0.0.2' }]);
    expect(gone).toMatchObject({ set: {}, remove: ['merak-gs/5001/10.0.0.2'], removed: [{ vni: 5001, ip: '10.0.0.2' }], upserted: [] });
    // The input map is never changed.
    expect(records.size).toBe(2);
  });

  it('need one tunnel per remote (host, VNI), with the first unicast host MAC given, none for local hosts', () => {
    const local = (ip: string): boolean => ip === '198.51.100.1';
    expect(tunnelsFor([
      n(5001, '10.0.0.2', '198.51.100.2', '02:00:00:00:00:02', 'not-a-mac'),
      n(5001, '10.0.0.3', '198.51.100.2', '02:00:00:00:00:03', '02:AA:00:00:00:02'),
      n(5002, '10.0.0.4', '198.51.100.2'),
      n(5001, '10.0.0.5', '198.51.100.3', '02:00:00:00:00:05', '01:00:5e:00:00:01'),
      n(5001, '10.0.0.6', '198.51.100.1'),
    ], local)).toEqual([
      { remoteIp: '198.51.100.2', vni: 5001, remoteMac: '02:aa:00:00:00:02' },
      { remoteIp: '198.51.100.2', vni: 5002, remoteMac: '02:aa:00:00:00:02' },
      { remoteIp: '198.51.100.3', vni: 5001, remoteMac: '' },
    ]);
  });
});
