// The cost of one vhost joining the scenario's VPC and leaving it, at the fleet's size: what the
// standalone control plane does when a vhost's VNIs change (TunnelSets.apply over the live VNIs).
// A scenario's VNIs are its own (a live scenario's VNI cannot be named by another), so the join is
// made at the tunnel sets: the new vhost, registered like the others, is given the VPC's VNI; then
// it is taken out again (as when its VMs are deleted). Each step's coordinator CPU, messages and
// tunnels sent are measured, and every agent's set is checked from outside after each. What each
// step must cost in a VPC of n vhosts: the n - 1 others one one-entry delta each (UpdateTunnels),
// and the vhost one whole set (its n - 1 tunnels on joining, an empty set on leaving).
import type { BenchCoordinator } from './coordinator.js';
import type { Fleets } from './fleets.js';
import type { StopOnSignals } from '../common/lifecycle.js';
import { type AgentTunnels, checkMesh, vhostName } from './tunnel-digest.js';

export interface ChangeCost {
  /** vhosts the coordinator told (their set changed) */
  readonly vhostsTold: number;
  readonly messagesSent: number;
  /** of which whole sets (SetTunnels) and deltas (UpdateTunnels) */
  readonly setsSent: number;
  readonly deltasSent: number;
  readonly tunnelsSent: number;
  readonly messagesReceived: number;
  readonly tunnelsReceived: number;
  readonly cpuMillis: number;
  readonly wallMillis: number;
}

export interface JoinLeave {
  readonly join: ChangeCost;
  readonly leave: ChangeCost;
  readonly problems: string[];
}

export class NotOneVpcError extends Error {
  constructor(vnis: readonly number[]) {
    super(`the scenario's vhosts are in VNIs [${vnis.join(',')}], not one`);
    this.name = 'NotOneVpcError';
  }
}

export class NotRegisteredError extends Error {
  constructor(readonly vhost: string) {
    super(`${vhost} did not register within 60 s`);
    this.name = 'NotRegisteredError';
  }
}

/** The VPC's VNI and its members (vhost indexes), as the control plane sees them. */
export function vpcMembers(c: BenchCoordinator): { vni: number; members: Set<number> } {
  const vnis = new Set<number>();
  const members = new Set<number>();
  for (const [host, v] of c.live().liveVnis()) {
    for (const x of v) vnis.add(x);
    if (v.size > 0) members.add(Number(host.slice('vhost-'.length)));
  }
  if (vnis.size !== 1) throw new NotOneVpcError([...vnis]);
  return { vni: [...vnis][0]!, members };
}

const totals = (r: readonly AgentTunnels[]): { calls: number; entries: number } => r.reduce((s, a) => ({ calls: s.calls + a.calls, entries: s.entries + a.entries }), { calls: 0, entries: 0 });

/** One step: `vnisByHost` applied, measured, then every agent checked against `members`. */
async function step(c: BenchCoordinator, fleets: Fleets, what: string, vnisByHost: ReadonlyMap<string, ReadonlySet<number>>, vni: number, members: ReadonlySet<number>, problems: string[]): Promise<ChangeCost> {
  const before = totals(await fleets.report());
  const sent0 = { ...c.sent };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await c.tunnelSets.apply(vnisByHost);
  const wallMillis = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  for (const f of out.failures.slice(0, 5)) problems.push(`${what}: could not tell ${f}`);
  const report = await fleets.report();
  const after = totals(report);
  for (const w of checkMesh(report, members, vni)) problems.push(`${what}: ${w}`);
  return {
    vhostsTold: out.told,
    messagesSent: c.sent.tunnelMessages - sent0.tunnelMessages,
    setsSent: c.sent.tunnelSets - sent0.tunnelSets,
    deltasSent: c.sent.tunnelDeltas - sent0.tunnelDeltas,
    tunnelsSent: c.sent.tunnelEntries - sent0.tunnelEntries,
    messagesReceived: after.calls - before.calls,
    tunnelsReceived: after.entries - before.entries,
    cpuMillis: Math.round((cpu.user + cpu.system) / 100) / 10,
    wallMillis: Math.round(wallMillis * 10) / 10,
  };
}

/** vhost-`index` (not yet started) joins the VPC and leaves it. */
export async function joinAndLeave(c: BenchCoordinator, fleets: Fleets, index: number, stop: StopOnSignals): Promise<JoinLeave> {
  const { vni, members } = vpcMembers(c);
  const name = vhostName(index);
  await stop.race(fleets.start(index, 1));
  if (!(await c.registry.waitFor(name, 60_000, stop.signal))) throw new NotRegisteredError(name);
  // Its registration makes the control plane refresh it after 200 ms: let that pass first.
  await stop.sleep(1000);
  const problems: string[] = [];
  const base = c.live().liveVnis();
  const join = await stop.race(step(c, fleets, 'join', new Map([...base, [name, new Set([vni])]]), vni, new Set([...members, index]), problems));
  const leave = await stop.race(step(c, fleets, 'leave', c.live().liveVnis(), vni, members, problems));
  await fleets.stopOne(index);
  // Proportional to the change: the others one entry each, the vhost its whole set.
  const n = members.size;
  const want = { join: { setsSent: 1, deltasSent: n, tunnelsSent: 2 * n }, leave: { setsSent: 1, deltasSent: n, tunnelsSent: n } };
  for (const [what, got] of [['join', join], ['leave', leave]] as const) {
    const w = want[what];
    if (got.setsSent !== w.setsSent || got.deltasSent !== w.deltasSent || got.tunnelsSent !== w.tunnelsSent || got.messagesReceived !== got.messagesSent || got.tunnelsReceived !== got.tunnelsSent) {
      problems.push(`${what}: ${got.setsSent} sets and ${got.deltasSent} deltas of ${got.tunnelsSent} tunnels sent (${got.messagesReceived} calls, ${got.tunnelsReceived} tunnels received), want ${w.setsSent} set and ${w.deltasSent} one-entry deltas, ${w.tunnelsSent} tunnels`);
    }
  }
  return { join, leave, problems };
}
