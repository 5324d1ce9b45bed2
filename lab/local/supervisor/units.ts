// The processes of a local emulation as the supervisor sees them: a key, a name for people, where
// its PID + start time is recorded (endpoint.json or emulation.json), and how to start it again
// from the record alone (the same command line as the first time). Units start in tiers: what a
// tier needs runs in the tiers before it (OVS before the agent, the agent before ovn-controller).
import { join } from 'node:path';
import { recordGroupProcess, startAgentGroupProcess } from '../agent-groups.js';
import { startAgentProcess } from '../agent-process.js';
import { startCoordinatorProcess } from '../coordinator-process.js';
import type { EmulationState, VhostRecord } from '../emulation-state.js';
import type { LocalRecord } from '../local-record.js';
import { type OvnCentralProcess, startNorthd, startOvnDb } from '../ovn-central.js';
import { startOvnController } from '../ovn-controller.js';
import { startOvsdbServer, startVswitchd } from '../ovs-instance.js';
import type { ProcessRecord } from '../process-record.js';

export interface Unit {
  /** Stable key: 'coordinator', 'ovn/nb', '<vhost>/agent', ... */
  readonly key: string;
  /** For people: 'agent of merak-vhost-2'. */
  readonly what: string;
  /** Started after every unit of a lower tier runs. */
  readonly tier: number;
  /** Its current record (undefined: never started). */
  current(): ProcessRecord | undefined;
  /** Records a (new) process of it, in memory; the caller writes the files. */
  set(r: ProcessRecord): void;
  /** Starts it again; `onSpawn` sees the PID as soon as there is one. Resolves to the PID once ready. */
  start(onSpawn: (pid: number) => void): Promise<number>;
}

type VhostProcess = keyof VhostRecord['processes'];

function vhostUnit(v: VhostRecord, kind: VhostProcess, tier: number, what: string, start: (onSpawn: (pid: number) => void) => Promise<number>): Unit {
  return {
    key: `${v.name}/${kind}`, what: `${what} of ${v.name}`, tier,
    current: () => v.processes[kind],
    set: (r) => { v.processes[kind] = r; },
    start,
  };
}

/** Every supervised process of the emulation, in start order. */
function coordinatorUnit(local: LocalRecord): Unit {
  const c = local.coordinatorLaunch;
  return {
    key: 'coordinator', what: 'coordinator', tier: 2,
    current: () => local.coordinatorProcess,
    set: (r) => { local.coordinatorProcess = r; },
    // Same flags, same store: it resumes the runs the store holds.
    start: async (onSpawn) => (await startCoordinatorProcess({ ...c, extraArgs: [...c.extraArgs], onSpawn })).pid,
  };
}

/** The emulation's processes; without a local record (an emulation started by the API alone) no coordinator. */
export function emulationUnits(local: LocalRecord | undefined, state: EmulationState): Unit[] {
  const units: Unit[] = [];
  const central = state.ovn;
  if (central) {
    const ovnUnit = (kind: OvnCentralProcess, what: string, start: () => Promise<number>, tier: number): Unit => ({
      key: `ovn/${kind}`, what, tier, current: () => central.processes[kind], set: (r) => { central.processes[kind] = r; },
      // A daemon that detaches: its PID is known once it is ready.
      start: async (onSpawn) => { const pid = await start(); onSpawn(pid); return pid; },
    });
    units.push(ovnUnit('nb', 'OVN NB ovsdb-server', () => startOvnDb(central, 'nb'), 0));
    units.push(ovnUnit('sb', 'OVN SB ovsdb-server', () => startOvnDb(central, 'sb'), 0));
    units.push(ovnUnit('northd', 'ovn-northd', () => startNorthd(central), 1));
  }
  for (const v of state.vhosts) {
    const ovs = { dir: join(v.dir, 'ovs'), netnsName: v.netns };
    units.push(vhostUnit(v, 'ovsdbServer', 0, 'ovsdb-server', async (onSpawn) => (await startOvsdbServer({ ...ovs, onSpawn })).pid!));
    units.push(vhostUnit(v, 'vswitchd', 1, 'ovs-vswitchd', async (onSpawn) => (await startVswitchd({ ...ovs, onSpawn })).pid!));
  }
  if (local) units.push(coordinatorUnit(local));
  const grouped = new Set<string>();
  for (const g of state.agentGroups ?? []) {
    for (const name of g.vhosts) grouped.add(name);
    units.push({
      key: `agents/${g.file}`, what: `agent group of ${g.vhosts.join(', ')}`, tier: 3,
      current: () => g.process,
      set: (r) => recordGroupProcess(g, state.vhosts, r),
      start: async (onSpawn) => (await startAgentGroupProcess(g, { onSpawn })).pid,
    });
  }
  for (const v of state.vhosts) {
    if (v.agentArgs === undefined || grouped.has(v.name)) continue;
    const args = v.agentArgs;
    units.push(vhostUnit(v, 'agent', 3, 'agent', async (onSpawn) => (await startAgentProcess({ netns: v.netns, args, logFile: join(v.dir, 'agent.log'), onSpawn })).pid));
  }
  for (const v of state.vhosts) {
    if (!central) continue;
    units.push(vhostUnit(v, 'ovnController', 4, 'ovn-controller', async (onSpawn) => {
      // Its chassis settings are in the vhost's OVSDB already (written at the first start).
      const pid = await startOvnController({ netns: v.netns, ovsDir: join(v.dir, 'ovs'), dbSocket: v.dbSocket });
      onSpawn(pid);
      return pid;
    }));
  }
  return units;
}
