import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { LabeledFlowMod } from '../openflow/index.js';
import { type FlowConnection, FlowSync } from './flow-sync.js';
import type { NeighborEntry } from './neighbor-table.js';
import { TunnelProgram } from './tunnel-program.js';
import { tunnelPortName } from './tunnels.js';

const LOCAL = '198.51.100.1';
const hostIp = (h: number): string => `198.51.100.${h + 1}`;

/** A 1,000-VM VPC (VNI 1001) over 10 vhosts, seen from vhost 0; 100 of its VMs are local. */
function vpc(n = 1000): NeighborEntry[] {
  return Array.from({ length: n }, (_, i) => ({ vni: 1001, ip: `10.1.${i >> 8}.${(i & 255) + 1}`, mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, hostIp: hostIp(i % 10) }));
}

function setup(): { program: TunnelProgram; batches: LabeledFlowMod[][]; reads: Array<readonly string[] | undefined> } {
  const batches: LabeledFlowMod[][] = [];
  const reads: Array<readonly string[] | undefined> = [];
  const connect = async (): Promise<FlowConnection> => ({ closed: new Promise<void>(() => undefined), close: () => undefined, apply: async (mods) => void batches.push([...mods]) });
  const late: { program?: TunnelProgram } = {};
  const flows = new FlowSync({ mgmtPath: '/nowhere', logger: pino({ level: 'silent' }), connect, onConnected: async () => late.program?.refresh() });
  // br-tun as vswitchd numbered it: the patch port and a tunnel per peer vhost for VNI 1001.
  const ofports = new Map<string, number>([['patch-int', 1], ...Array.from({ length: 9 }, (_, k): [string, number] => [tunnelPortName('vxlan', hostIp(k + 1), 1001), 10 + k])]);
  const program = new TunnelProgram({
    flows, logger: pino({ level: 'silent' }), localIp: LOCAL, ovsRundir: '/nowhere', patchPort: 'patch-int',
    acquireVlan: (vni) => (vni === 1001 ? 3 : 4),
    ofports: async (names) => {
      reads.push(names);
      return names ? new Map([...ofports].filter(([n]) => names.includes(n))) : ofports;
    },
  });
  late.program = program;
  return { program, batches, reads };
}

describe('TunnelProgram', () => {
  it('programs a 1,000-VM VPC once, then one VM added or removed costs two flow_mods', async () => {
    const { program, batches } = setup();
    const all = vpc();
    const first = await program.update({ upsert: all, remove: [], replace: true });
    // 900 remote VMs x 2 flows, the 3 fixed flows, one ingress flow for the VNI; local VMs get none.
    expect(first).toMatchObject({ neighbors: 1000, flows: 1804 });
    expect(batches[0]![0]).toMatchObject({ command: 'delete', flow: { table: 0xff } });
    expect(batches[0]!.length).toBe(1805);

    const added = { vni: 1001, ip: '10.1.9.9', mac: '02:00:00:00:09:09', hostIp: hostIp(4) };
    expect(await program.update({ upsert: [added], remove: [], replace: false })).toMatchObject({ neighbors: 1001, flows: 1806, flowsAdded: 2, flowsRemoved: 0 });
    expect(batches[1]!.map((m) => [m.command, m.flow.priority, m.flow.match.arpTpa ?? m.flow.match.ethDst])).toEqual([['add', 100, '10.1.9.9'], ['add', 50, '02:00:00:00:09:09']]);
    // The unicast flow goes into the tunnel to vhost 4 (ofport 13), untagged.
    expect(batches[1]![1]!.flow.actions).toEqual([{ type: 'pop_vlan' }, { type: 'output', port: 13 }]);

    expect(await program.update({ upsert: [], remove: [{ vni: 1001, ip: '10.1.9.9' }], replace: false })).toMatchObject({ neighbors: 1000, flows: 1804, flowsAdded: 0, flowsRemoved: 2 });
    expect(batches[2]!.map((m) => m.command)).toEqual(['delete_strict', 'delete_strict']);
    // A local VM costs no flow at all; replacing the table with itself sends nothing.
    expect(await program.update({ upsert: [{ ...added, hostIp: LOCAL }], remove: [], replace: false })).toMatchObject({ flowsAdded: 0, flowsRemoved: 0 });
    expect(await program.update({ upsert: [...all, { ...added, hostIp: LOCAL }], remove: [], replace: true })).toMatchObject({ flowsAdded: 0, flowsRemoved: 0 });
    expect(batches).toHaveLength(3);
    program.close();
  });

  it('drops the VNI’s ingress flow with its last neighbor and its tunnels', async () => {
    const { program, batches } = setup();
    await program.update({ upsert: vpc(20), remove: [], replace: true });
    const out = await program.update({ upsert: [], remove: [], replace: true });
    expect(out).toMatchObject({ neighbors: 0, flows: 3 });
    expect(batches[1]!.filter((m) => m.flow.match.tunnelId === 1001n).map((m) => m.command)).toEqual(['delete_strict']);
    program.close();
  });

  it('keeps GoalState\'s table beside the coordinator\'s: a coordinator replace leaves its flows', async () => {
    const { program, batches } = setup();
    const coordinatorVm = { vni: 1001, ip: '10.1.0.9', mac: '02:00:00:00:00:09', hostIp: hostIp(1) };
    await program.update({ upsert: [coordinatorVm], remove: [], replace: true });
    // GoalState's neighbor on vhost 2 (its tunnel, ofport 11, is VXLAN like the test's).
    const gs = { vni: 1001, ip: '10.1.0.7', mac: '02:00:00:00:00:07', hostIp: hostIp(2) };
    const peers = new Map([[hostIp(2), '02:aa:00:00:00:02']]);
    expect(await program.updateGoalState({ upsert: [gs], remove: [], replace: false }, { added: [], removed: [], peers })).toMatchObject({ neighbors: 1, flowsAdded: 2 });
    // The coordinator's empty table: only its entry's two flows go.
    expect(await program.update({ upsert: [], remove: [], replace: true })).toMatchObject({ neighbors: 0, flowsRemoved: 2, flowsAdded: 0 });
    expect(batches.at(-1)!.map((m) => m.flow.match.arpTpa ?? m.flow.match.ethDst)).toEqual(['10.1.0.9', '02:00:00:00:00:09']);
    // GoalState's last neighbor of the VNI goes: its flows and the ingress flow with it.
    const out = await program.updateGoalState({ upsert: [], remove: [{ vni: 1001, ip: '10.1.0.7' }], replace: false }, { added: [], removed: [], peers: new Map() });
    expect(out).toMatchObject({ neighbors: 0, flows: 3, flowsRemoved: 3 });
    program.close();
  });

  it('a tunnel delta reprograms only the entries behind the tunnels it added or removed, reading only their ofports', async () => {
    const { program, batches, reads } = setup();
    await program.update({ upsert: vpc(), remove: [], replace: true });
    const gone = { remoteIp: hostIp(4), vni: 1001 };
    const vnis = new Set([1001]);
    reads.length = 0;
    await program.tunnelsUpdated({ added: [], removed: [gone] }, vnis, new Map());
    // vhost 4's 100 VMs lose their two flows each; nothing else is sent, no ofport is read.
    expect(batches.at(-1)!.map((m) => m.command)).toEqual(Array<string>(200).fill('delete_strict'));
    expect(reads).toEqual([]);
    await program.tunnelsUpdated({ added: [gone], removed: [] }, vnis, new Map());
    expect(reads).toEqual([[tunnelPortName('vxlan', hostIp(4), 1001)]]);
    expect(batches.at(-1)!.map((m) => m.command)).toEqual(Array<string>(200).fill('add'));
    expect(batches.at(-1)![1]!.flow.actions).toEqual([{ type: 'pop_vlan' }, { type: 'output', port: 13 }]);
    program.close();
  });
});
