import type { agentV1 } from '@merak/proto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tunnelSets } from './membership.js';
import { TunnelSets, type TunnelPort } from './tunnel-sets.js';

const logger = pino({ level: 'silent' });

/** vhosts h0..h{n-1} at 192.0.2.{10+i}, recording every set they are sent; `failing` refuse. */
function fleet(n: number): { ips: Map<string, string>; sent: Map<string, agentV1.Tunnel[][]>; failing: Set<string>; sets: TunnelSets } {
  const ips = new Map(Array.from({ length: n }, (_, i): [string, string] => [`h${i}`, `192.0.2.${10 + i}`]));
  const sent = new Map<string, agentV1.Tunnel[][]>();
  const failing = new Set<string>();
  const clientFor = (h: string): TunnelPort => ({
    setTunnels: async (req) => {
      if (failing.has(h)) throw new Error('refused');
      sent.set(h, [...(sent.get(h) ?? []), req.tunnels.map((t) => ({ ...t }))]);
      return { tunnels: req.tunnels.length, added: 0, removed: 0 };
    },
    updateNeighbors: async () => ({ neighbors: 0, flows: 0, flowsAdded: 0, flowsRemoved: 0, micros: 0 }),
  });
  return { ips, sent, failing, sets: new TunnelSets({ clientFor, underlayIp: (h) => ips.get(h), type: 'vxlan', logger }) };
}

const hosts = (entries: Array<[string, number[]]>): Map<string, Set<number>> => new Map(entries.map(([h, v]) => [h, new Set(v)]));
/** The last set each vhost was sent. */
const last = (sent: Map<string, agentV1.Tunnel[][]>): Map<string, agentV1.Tunnel[]> => new Map([...sent].map(([h, l]) => [h, l.at(-1)!]));

describe('TunnelSets', () => {
  it('tells each vhost its whole set once, and nothing when nothing changed', async () => {
    const f = fleet(4);
    const live = hosts([['h0', [7, 8]], ['h1', [7]], ['h2', [7]], ['h3', [8]]]);
    const out = await f.sets.apply(live);
    expect(out).toEqual({ told: 4, tunnels: 8, entries: 8, failures: [] });
    expect(last(f.sent)).toEqual(tunnelSets(live, (h) => f.ips.get(h)));
    f.sent.clear();
    expect(await f.sets.apply(live)).toEqual({ told: 0, tunnels: 0, entries: 0, failures: [] });
    expect(f.sent.size).toBe(0);
  });

  it('a vhost joining a VNI tells that VNI’s members and the vhost, each its whole new set; leaving, the same and an empty set to it', async () => {
    const f = fleet(6);
    const before = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]], ['h3', [8]], ['h4', [8]]]);
    await f.sets.apply(before);
    f.sent.clear();
    const joined = new Map([...before, ['h5', new Set([7])]]);
    const out = await f.sets.apply(joined);
    expect([...f.sent.keys()].sort()).toEqual(['h0', 'h1', 'h2', 'h5']);
    expect(out.entries).toBe(12);
    expect(last(f.sent)).toEqual(new Map([...tunnelSets(joined, (h) => f.ips.get(h))].filter(([h]) => f.sent.has(h))));
    expect(last(f.sent).get('h0')!.map((t) => t.remoteIp)).toEqual(['192.0.2.11', '192.0.2.12', '192.0.2.15']);
    f.sent.clear();
    await f.sets.apply(before);
    expect([...f.sent.keys()].sort()).toEqual(['h0', 'h1', 'h2', 'h5']);
    expect(last(f.sent).get('h5')).toEqual([]);
    expect(last(f.sent).get('h1')!.map((t) => t.remoteIp)).toEqual(['192.0.2.10', '192.0.2.12']);
    f.sent.clear();
    // h5 was told its empty set: not again.
    await f.sets.apply(before);
    expect(f.sent.size).toBe(0);
  });

  it('a vhost joining a second VNI tells only that VNI’s members; a vhost that came back with another address tells its VNIs’ members', async () => {
    const f = fleet(4);
    await f.sets.apply(hosts([['h0', [7]], ['h1', [7]], ['h2', [8]], ['h3', [8]]]));
    f.sent.clear();
    await f.sets.apply(hosts([['h0', [7, 8]], ['h1', [7]], ['h2', [8]], ['h3', [8]]]));
    expect([...f.sent.keys()].sort()).toEqual(['h0', 'h2', 'h3']);
    expect(last(f.sent).get('h0')).toEqual([{ remoteIp: '192.0.2.11', vni: 7, remoteMac: '' }, { remoteIp: '192.0.2.12', vni: 8, remoteMac: '' }, { remoteIp: '192.0.2.13', vni: 8, remoteMac: '' }]);
    f.sent.clear();
    f.ips.set('h3', '192.0.2.99');
    f.sets.forget('h3');
    await f.sets.apply(hosts([['h0', [7, 8]], ['h1', [7]], ['h2', [8]], ['h3', [8]]]));
    expect([...f.sent.keys()].sort()).toEqual(['h0', 'h2', 'h3']);
    expect(last(f.sent).get('h2')).toEqual([{ remoteIp: '192.0.2.10', vni: 8, remoteMac: '' }, { remoteIp: '192.0.2.99', vni: 8, remoteMac: '' }]);
  });

  it('a vhost that could not be told is told at the next apply; one that was forgotten is told again', async () => {
    const f = fleet(3);
    const live = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]]]);
    f.failing.add('h1');
    const out = await f.sets.apply(live);
    expect(out.told).toBe(2);
    expect(out.failures).toEqual(['h1: refused']);
    f.failing.clear();
    f.sent.clear();
    await f.sets.apply(live);
    expect([...f.sent.keys()]).toEqual(['h1']);
    expect(last(f.sent).get('h1')!.map((t) => t.remoteIp)).toEqual(['192.0.2.10', '192.0.2.12']);
    f.sent.clear();
    f.sets.forget('h2');
    await f.sets.apply(live);
    expect([...f.sent.keys()]).toEqual(['h2']);
  });

  it('a vhost without an endpoint is left out of its peers’ sets; one that loses its endpoint is sent an empty set', async () => {
    const f = fleet(3);
    f.ips.set('h2', '');
    const live = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]]]);
    await f.sets.apply(live);
    expect([...f.sent.keys()].sort()).toEqual(['h0', 'h1']);
    expect(last(f.sent).get('h0')).toEqual([{ remoteIp: '192.0.2.11', vni: 7, remoteMac: '' }]);
    f.sent.clear();
    f.ips.set('h1', '');
    await f.sets.apply(live);
    expect(last(f.sent)).toEqual(new Map([['h0', []], ['h1', []]]));
  });
});
