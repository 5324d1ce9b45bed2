import type { agentV1 } from '@merak/proto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { tunnelSets, unpackGroups } from './membership.js';
import { TunnelSets, type TunnelPort } from './tunnel-sets.js';

const logger = pino({ level: 'silent' });

/** One call a vhost received: its whole set, or a delta. */
type Call = { kind: 'set'; tunnels: agentV1.Tunnel[] } | { kind: 'delta'; upsert: agentV1.Tunnel[]; remove: agentV1.TunnelKey[] };

interface Fleet {
  ips: Map<string, string>;
  /** Every call each vhost received, in order. */
  sent: Map<string, Call[]>;
  /** What each vhost holds, as an agent would after the calls (by "ip/vni"). */
  held: Map<string, Map<string, agentV1.Tunnel>>;
  /** vhosts that refuse every call; `refusing`: refuse deltas only (as an agent that restarted). */
  failing: Set<string>;
  refusing: Set<string>;
  sets: TunnelSets;
}

/** vhosts h0..h{n-1} at 192.0.2.{10+i}, each keeping what it is told as an agent does. */
function fleet(n: number): Fleet {
  const ips = new Map(Array.from({ length: n }, (_, i): [string, string] => [`h${i}`, `192.0.2.${10 + i}`]));
  const sent = new Map<string, Call[]>();
  const held = new Map<string, Map<string, agentV1.Tunnel>>();
  const failing = new Set<string>();
  const refusing = new Set<string>();
  const record = (h: string, c: Call): void => void sent.set(h, [...(sent.get(h) ?? []), c]);
  const clientFor = (h: string): TunnelPort => ({
    setTunnels: async (req) => {
      if (failing.has(h)) throw new Error('refused');
      const tunnels = [...req.tunnels, ...unpackGroups(req.groups, ips.get(h))];
      record(h, { kind: 'set', tunnels });
      held.set(h, new Map(tunnels.map((t) => [`${t.remoteIp}/${t.vni}`, { ...t }])));
      return { tunnels: tunnels.length, added: 0, removed: 0 };
    },
    updateTunnels: async (req) => {
      if (failing.has(h)) throw new Error('refused');
      if (refusing.has(h)) throw new Error('tunnel delta refused, send the whole set (SetTunnels)');
      record(h, { kind: 'delta', upsert: req.upsert.map((t) => ({ ...t })), remove: req.remove.map((k) => ({ ...k })) });
      const set = held.get(h)!;
      for (const k of req.remove) set.delete(`${k.remoteIp}/${k.vni}`);
      for (const t of req.upsert) set.set(`${t.remoteIp}/${t.vni}`, { ...t });
      return { tunnels: set.size, added: 0, removed: 0 };
    },
    updateNeighbors: async () => ({ neighbors: 0, flows: 0, flowsAdded: 0, flowsRemoved: 0, micros: 0 }),
  });
  return { ips, sent, held, failing, refusing, sets: new TunnelSets({ clientFor, underlayIp: (h) => ips.get(h), type: 'vxlan', logger }) };
}

const hosts = (entries: Array<[string, number[]]>): Map<string, Set<number>> => new Map(entries.map(([h, v]) => [h, new Set(v)]));
const sortTunnels = (l: readonly agentV1.Tunnel[]): agentV1.Tunnel[] => [...l].sort((a, b) => a.vni - b.vni || a.remoteIp.localeCompare(b.remoteIp));

/** Every vhost holds exactly its whole set (the reference: every set computed from scratch). */
function expectMesh(f: Fleet, live: Map<string, Set<number>>): void {
  const want = tunnelSets(live, (h) => f.ips.get(h));
  for (const [h, set] of want) expect(sortTunnels([...(f.held.get(h)?.values() ?? [])]), h).toEqual(sortTunnels(set));
  for (const [h, set] of f.held) if (!want.has(h)) expect(set.size, h).toBe(0);
}

/** The kind and size of each call sent since `sent` was cleared, by vhost. */
const calls = (f: Fleet): Record<string, string[]> => Object.fromEntries([...f.sent].sort(([a], [b]) => a.localeCompare(b)).map(([h, l]) => [h, l.map((c) => (c.kind === 'set' ? `set ${c.tunnels.length}` : `delta +${c.upsert.length} -${c.remove.length}`))]));

describe('TunnelSets', () => {
  it('tells each vhost its whole set once, and nothing when nothing changed', async () => {
    const f = fleet(4);
    const live = hosts([['h0', [7, 8]], ['h1', [7]], ['h2', [7]], ['h3', [8]]]);
    const out = await f.sets.apply(live);
    expect(out).toEqual({ told: 4, sets: 4, deltas: 0, tunnels: 8, entries: 8, failures: [] });
    expectMesh(f, live);
    f.sent.clear();
    expect(await f.sets.apply(live)).toEqual({ told: 0, sets: 0, deltas: 0, tunnels: 0, entries: 0, failures: [] });
    expect(f.sent.size).toBe(0);
  });

  it('a vhost joining a VPC tells each of the others one upsert and the joiner its whole set; leaving, one remove each and an empty set to it', async () => {
    const f = fleet(7);
    const before = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]], ['h3', [7]], ['h4', [8]], ['h5', [8]]]);
    await f.sets.apply(before);
    f.sent.clear();
    const joined = new Map([...before, ['h6', new Set([7])]]);
    const out = await f.sets.apply(joined);
    expect(calls(f)).toEqual({ h0: ['delta +1 -0'], h1: ['delta +1 -0'], h2: ['delta +1 -0'], h3: ['delta +1 -0'], h6: ['set 4'] });
    expect(out).toMatchObject({ told: 5, sets: 1, deltas: 4, entries: 8, failures: [] });
    expect(f.sent.get('h0')).toEqual([{ kind: 'delta', upsert: [{ remoteIp: '192.0.2.16', vni: 7, remoteMac: '' }], remove: [] }]);
    expectMesh(f, joined);
    f.sent.clear();
    const left = await f.sets.apply(before);
    expect(calls(f)).toEqual({ h0: ['delta +0 -1'], h1: ['delta +0 -1'], h2: ['delta +0 -1'], h3: ['delta +0 -1'], h6: ['set 0'] });
    expect(left).toMatchObject({ told: 5, sets: 1, deltas: 4, entries: 4 });
    expect(f.sent.get('h1')).toEqual([{ kind: 'delta', upsert: [], remove: [{ remoteIp: '192.0.2.16', vni: 7 }] }]);
    expectMesh(f, before);
    f.sent.clear();
    // h6 was told its empty set: not again.
    await f.sets.apply(before);
    expect(f.sent.size).toBe(0);
  });

  it('a vhost joining a second VNI is told that VNI’s tunnels, its members one upsert each', async () => {
    const f = fleet(6);
    const before = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]], ['h3', [8]], ['h4', [8]]]);
    await f.sets.apply(before);
    f.sent.clear();
    const after = hosts([['h0', [7, 8]], ['h1', [7]], ['h2', [7]], ['h3', [8]], ['h4', [8]]]);
    await f.sets.apply(after);
    expect(calls(f)).toEqual({ h0: ['delta +2 -0'], h3: ['delta +1 -0'], h4: ['delta +1 -0'] });
    expectMesh(f, after);
    f.sent.clear();
    // Leaving it again: h0 loses that VNI's two tunnels.
    await f.sets.apply(before);
    expect(calls(f)).toEqual({ h0: ['delta +0 -2'], h3: ['delta +0 -1'], h4: ['delta +0 -1'] });
    expectMesh(f, before);
  });

  it('a vhost that registered again gets its whole set; one back with another address also changes its peers by a delta', async () => {
    const f = fleet(4);
    const live = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]], ['h3', [7]]]);
    await f.sets.apply(live);
    f.sent.clear();
    // Restarted with the same address: it alone, its whole set.
    f.sets.forget('h2');
    f.held.delete('h2');
    await f.sets.apply(live);
    expect(calls(f)).toEqual({ h2: ['set 3'] });
    expectMesh(f, live);
    f.sent.clear();
    f.ips.set('h3', '192.0.2.99');
    f.sets.forget('h3');
    await f.sets.apply(live);
    expect(calls(f)).toEqual({ h0: ['delta +1 -1'], h1: ['delta +1 -1'], h2: ['delta +1 -1'], h3: ['set 3'] });
    expect(f.sent.get('h0')).toEqual([{ kind: 'delta', upsert: [{ remoteIp: '192.0.2.99', vni: 7, remoteMac: '' }], remove: [{ remoteIp: '192.0.2.13', vni: 7 }] }]);
    expectMesh(f, live);
  });

  it('a vhost whose delta failed (or was refused) gets its whole set at the next apply', async () => {
    const f = fleet(4);
    const three = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]]]);
    await f.sets.apply(three);
    f.sent.clear();
    f.failing.add('h1');
    f.refusing.add('h2');
    const four = new Map([...three, ['h3', new Set([7])]]);
    const out = await f.sets.apply(four);
    expect([...out.failures].sort()).toEqual(['h1: refused', 'h2: tunnel delta refused, send the whole set (SetTunnels)']);
    expect(out).toMatchObject({ told: 2, sets: 1, deltas: 1 });
    f.failing.clear();
    f.refusing.clear();
    f.sent.clear();
    await f.sets.apply(four);
    expect(calls(f)).toEqual({ h1: ['set 3'], h2: ['set 3'] });
    expectMesh(f, four);
    // Its record is current again: the next change is a delta for it too.
    f.sent.clear();
    await f.sets.apply(three);
    expect(calls(f)).toEqual({ h0: ['delta +0 -1'], h1: ['delta +0 -1'], h2: ['delta +0 -1'], h3: ['set 0'] });
  });

  it('a vhost that missed a change (its call failed) is not sent a delta from a generation it does not hold', async () => {
    const f = fleet(5);
    const base = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]]]);
    await f.sets.apply(base);
    f.failing.add('h0');
    await f.sets.apply(new Map([...base, ['h3', new Set([7])]]));
    f.failing.clear();
    f.sent.clear();
    const next = new Map([...base, ['h3', new Set([7])], ['h4', new Set([7])]]);
    await f.sets.apply(next);
    expect(calls(f)).toEqual({ h0: ['set 4'], h1: ['delta +1 -0'], h2: ['delta +1 -0'], h3: ['delta +1 -0'], h4: ['set 4'] });
    expectMesh(f, next);
  });

  it('runs applies one at a time, each against what the previous one sent', async () => {
    const f = fleet(5);
    const a = hosts([['h0', [7]], ['h1', [7]]]);
    const b = new Map([...a, ['h2', new Set([7])]]);
    const c = new Map([...b, ['h3', new Set([7])], ['h4', new Set([7])]]);
    await Promise.all([f.sets.apply(a), f.sets.apply(b), f.sets.apply(c)]);
    expectMesh(f, c);
  });

  it('a vhost without an endpoint is left out of its peers’ sets; one that loses its endpoint is sent an empty set', async () => {
    const f = fleet(3);
    f.ips.set('h2', '');
    const live = hosts([['h0', [7]], ['h1', [7]], ['h2', [7]]]);
    await f.sets.apply(live);
    expect(calls(f)).toEqual({ h0: ['set 1'], h1: ['set 1'] });
    expect(f.sent.get('h0')).toEqual([{ kind: 'set', tunnels: [{ remoteIp: '192.0.2.11', vni: 7, remoteMac: '' }] }]);
    f.sent.clear();
    f.ips.set('h1', '');
    await f.sets.apply(live);
    expect(calls(f)).toEqual({ h0: ['set 0'], h1: ['set 0'] });
  });
});
