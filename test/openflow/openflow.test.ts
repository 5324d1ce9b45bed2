// The OpenFlow client against a real ovs-vswitchd (userspace datapath) in a fresh namespace: the
// golden captures still match this machine's ovs-ofctl; flows applied over <dir>/br-tun.mgmt are
// exactly what ovs-ofctl would have installed from the same text; strict and by-cookie deletes;
// refused flows named by label while the rest of the batch stays; 5,000 flows in one batch; a
// bridge without 1.3 and a missing bridge; vswitchd killed under a pending batch. Needs root.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OvsInstance, startOvsInstance } from '../../lab/index.js';
import {
  type Flow, type FlowMod, type LabeledFlowMod, OFPFF, OFPP, OFPTT_ALL, OpenFlowClosedError, OpenFlowConnectError, OpenFlowConnection,
  OpenFlowFlowError, OpenFlowVersionError,
} from '../../agent/openflow/index.js';
import { captureOfctl } from '../../agent/openflow/testdata/capture.js';
import { CAPTURED, CAPTURED_BUNDLES, CAPTURED_HELLO, SOCKET } from '../../agent/openflow/testdata/captured.js';
import { FLOW_MODS } from '../../agent/openflow/testdata/flow-mods.js';
import { namespacesWithPrefix, requireRoot, uniquePrefix } from '../fixtures/local-vhost.js';

let prefix = '';
let dir = '';
let ovs: OvsInstance | undefined;
let conn: OpenFlowConnection | undefined;
const mgmt = (bridge: string): string => join(dir, `${bridge}.mgmt`);
const vsctl = (...args: string[]): string => execFileSync('ovs-vsctl', [`--db=unix:${ovs!.dbSocket}`, ...args], { encoding: 'utf8' });

/** ovs-ofctl's view of a bridge, one normalized line per flow (match fields sorted), sorted. */
function dumpFlows(bridge: string, ...filter: string[]): string[] {
  const out = execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', '--no-stats', 'dump-flows', `unix:${mgmt(bridge)}`, ...filter], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('OFPST')).map(normalize).sort();
}

function normalize(line: string): string {
  const at = line.indexOf(' actions=');
  const head = line.slice(0, at).split(/,\s*/);
  const take = (key: string, fallback: string): string => {
    const i = head.findIndex((t) => t.startsWith(`${key}=`));
    return i === -1 ? fallback : head.splice(i, 1)[0]!.slice(key.length + 1);
  };
  const cookie = take('cookie', '0x0');
  const table = take('table', '0');
  const priority = take('priority', '32768');
  return `table=${table} priority=${priority} cookie=${cookie} match=${head.sort().join(',') || '-'} ${line.slice(at + 1)}`;
}

/** The golden flows that add something, under their names. */
const ADDS = (Object.keys(FLOW_MODS) as Array<keyof typeof FLOW_MODS>).filter((n) => FLOW_MODS[n].command === 'add');
const labeled = (name: keyof typeof FLOW_MODS): LabeledFlowMod => ({ ...FLOW_MODS[name], label: name });
const add = (flow: Flow, label: string): LabeledFlowMod => ({ command: 'add', flow, label });

// What OVS shows for the golden adds on br-tun (checked by hand once; the reference bridge below
// checks the rest mechanically).
const GOLDEN_DUMP = [
  'table=0 priority=1 cookie=0x0 match=in_port=1 actions=goto_table:1',
  'table=0 priority=10 cookie=0x0 match=tun_id=0x3e9 actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:1',
  'table=0 priority=4 cookie=0x0 match=in_port=1 actions=output:3,goto_table:2',
  'table=1 priority=0 cookie=0x4d524b0000000001 match=- actions=drop',
  'table=1 priority=100 cookie=0x0 match=arp,arp_op=1,arp_tpa=10.1.0.7,dl_vlan=5 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],'
    + 'set_field:02:00:00:00:00:07->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],'
    + 'set_field:02:00:00:00:00:07->arp_sha,set_field:10.1.0.7->arp_spa,IN_PORT',
  'table=1 priority=50 cookie=0x4d524b0000000003 match=dl_dst=02:00:00:00:00:07,dl_vlan=5 actions=pop_vlan,set_field:0x3e9->tun_id,'
    + 'set_field:198.51.100.3->tun_dst,output:2',
  'table=2 priority=7 cookie=0x0 match=arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,dl_dst=02:00:00:00:00:02,dl_src=02:00:00:00:00:01,'
    + 'dl_vlan=9,in_port=3,tun_id=0x10 actions=output:4',
].sort();

const DELETE_ALL: FlowMod = { command: 'delete', flow: { table: OFPTT_ALL, priority: 0, cookie: 0n, match: {} } };
const mac = (i: number): string => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
/** n distinct unicast flows in `table`. */
const macFlows = (n: number, table: number, cookie: bigint): FlowMod[] => Array.from({ length: n }, (_, i) => ({
  command: 'add',
  flow: { table, priority: 50, cookie, match: { vlanVid: 1 + (i % 4000), ethDst: mac(i) }, actions: [{ type: 'pop_vlan' }, { type: 'output', port: 2 }] },
}));

beforeAll(async () => {
  requireRoot();
  prefix = uniquePrefix('of');
  dir = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  await netnsCreate(`${prefix}-ovs`);
  ovs = await startOvsInstance({ dir, netnsName: `${prefix}-ovs` });
  const bridge = (name: string, ...settings: string[]): string[] =>
    ['--', 'add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev', 'fail_mode=secure', ...settings];
  const port = (br: string, name: string, ofport: number, ...settings: string[]): string[] =>
    ['--', 'add-port', br, name, '--', 'set', 'interface', name, `ofport_request=${ofport}`, ...settings];
  // br-tun as the agent will have it: a port toward br-int (internal here) and a flow-based vxlan
  // port; br-ref the same, for ovs-ofctl to install the reference flows; br-old without 1.3.
  // Two flow-based vxlan ports on one UDP port would clash: br-ref's listens on another.
  for (const [br, udp] of [['br-tun', '4789'], ['br-ref', '4790']] as const) {
    vsctl(...bridge(br), ...port(br, `${br}-p1`, 1, 'type=internal'),
      ...port(br, `${br}-vx`, 2, 'type=vxlan', 'options:remote_ip=flow', 'options:key=flow', `options:dst_port=${udp}`));
  }
  // ovs-vsctl exits 0 when vswitchd could not set an interface up: ask for its ofport instead.
  for (const iface of ['br-tun-p1', 'br-tun-vx', 'br-ref-p1', 'br-ref-vx']) {
    expect(vsctl('get', 'interface', iface, 'ofport').trim(), iface).toMatch(/^[12]$/);
  }
  vsctl(...bridge('br-old', 'protocols=OpenFlow10'));
  conn = await OpenFlowConnection.connect(mgmt('br-tun'), { timeoutMs: 5000 });
});

afterAll(async () => {
  try {
    await conn?.close();
    await ovs?.stop();
  } finally {
    await netnsDelete(namespacesWithPrefix(prefix));
    if (!process.env.MERAK_KEEP_OVS) rmSync(dir, { recursive: true, force: true });
  }
});

describe('OpenFlow against ovs-vswitchd', () => {
  it("the stored captures are still what this machine's ovs-ofctl sends (re-capture with testdata/capture.ts if not)", async () => {
    for (const [name, c] of Object.entries(CAPTURED)) {
      const { flowMods } = await captureOfctl(c.args);
      expect(flowMods.map((m) => m.toString('hex')).join(''), name).toBe(c.hex);
    }
    expect((await captureOfctl(CAPTURED_HELLO.args)).hello?.toString('hex')).toBe(CAPTURED_HELLO.hex);
    for (const [name, c] of Object.entries(CAPTURED_BUNDLES)) {
      const { messages } = await captureOfctl(c.args, undefined, 'input' in c ? c.input : undefined);
      expect(messages.map((m) => m.toString('hex')), name).toEqual(c.hex);
    }
  });

  it('installs exactly the flows ovs-ofctl installs from the same text', async () => {
    await conn!.apply(ADDS.map(labeled));
    for (const name of ADDS) {
      const args = CAPTURED[name].args.map((a) => (a === SOCKET ? `unix:${mgmt('br-ref')}` : a));
      execFileSync('ovs-ofctl', args);
    }
    expect(dumpFlows('br-tun')).toEqual(GOLDEN_DUMP);
    expect(dumpFlows('br-tun')).toEqual(dumpFlows('br-ref'));
  });

  it('turns an ARP request on VLAN 5 into the reply (ofproto/trace)', async () => {
    // No 802.1Q in every test kernel, so vswitchd's own tracer plays the packet through br-tun.
    // The golden in_port=1 flows at priority 4 go elsewhere: a VLAN 5 flow above them leads to table 1.
    const toTable1: Flow = { table: 0, priority: 20, cookie: 0n, match: { inPort: 1, vlanVid: 5 }, gotoTable: 1 };
    await conn!.apply([add(toTable1, 'vlan5-to-table1')]);
    const packet = 'in_port=1,dl_vlan=5,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,arp_op=1,'
      + 'arp_sha=02:00:00:00:00:01,arp_spa=10.1.0.1,arp_tpa=10.1.0.7,arp_tha=00:00:00:00:00:00';
    const out = execFileSync('ovs-appctl', ['-t', join(dir, 'ovs-vswitchd.ctl'), 'ofproto/trace', 'br-tun', packet], { encoding: 'utf8' });
    await conn!.apply([{ command: 'delete_strict', flow: toTable1 }]);
    const final = /^Final flow: (.*)$/m.exec(out)?.[1] ?? '';
    expect(final, out).toContain('dl_vlan=5');
    expect(final, out).toContain('dl_src=02:00:00:00:00:07,dl_dst=02:00:00:00:00:01');
    expect(final, out).toContain('arp_spa=10.1.0.7,arp_tpa=10.1.0.1,arp_op=2,arp_sha=02:00:00:00:00:07,arp_tha=02:00:00:00:00:01');
    expect(out).toMatch(/^ 1\. .*arp_tpa=10\.1\.0\.7.*\n(.*\n)*\s+IN_PORT$/m);
  });

  it('re-adding the same flows changes nothing; modify_strict replaces the actions', async () => {
    await conn!.apply(ADDS.map(labeled));
    expect(dumpFlows('br-tun')).toEqual(GOLDEN_DUMP);
    const unicast = FLOW_MODS.unicastToTunnel.flow;
    await conn!.apply([{ command: 'modify_strict', flow: { ...unicast, actions: [{ type: 'pop_vlan' }, { type: 'output', port: 1 }] } }]);
    expect(dumpFlows('br-tun', 'table=1,dl_dst=02:00:00:00:00:07')).toEqual([
      'table=1 priority=50 cookie=0x4d524b0000000003 match=dl_dst=02:00:00:00:00:07,dl_vlan=5 actions=pop_vlan,output:1',
    ]);
    await conn!.apply([labeled('unicastToTunnel')]);
    expect(dumpFlows('br-tun')).toEqual(GOLDEN_DUMP);
  });

  it('deletes strictly (with the Flow that added it) and by cookie', async () => {
    await conn!.apply([
      { command: 'delete_strict', flow: FLOW_MODS.arpResponder.flow },
      { command: 'delete', flow: { table: OFPTT_ALL, priority: 0, cookie: 0x4d524b0000000003n, match: {} }, cookieMask: 0xffffffffffffffffn },
    ]);
    const gone = (l: string): boolean => l.includes('arp_tpa=10.1.0.7') || l.includes('cookie=0x4d524b0000000003');
    expect(GOLDEN_DUMP.filter(gone)).toHaveLength(2);
    expect(dumpFlows('br-tun')).toEqual(GOLDEN_DUMP.filter((l) => !gone(l)));
  });

  it('names each flow the switch refuses; the rest of the batch is installed', async () => {
    const flow = (priority: number, rest: Partial<Flow>): Flow => ({ table: 4, priority, cookie: 0x99n, match: {}, ...rest });
    const batch: LabeledFlowMod[] = [
      add(flow(1, { match: { inPort: 1 }, actions: [{ type: 'output', port: 2 }] }), 'ok-1'),
      add(flow(2, { match: { inPort: 2 }, actions: [{ type: 'set_field', field: 'arp_op', value: 2 }] }), 'arp-op-without-arp'),
      add(flow(3, { gotoTable: 1 }), 'goto-backwards'),
      add(flow(4, { match: { inPort: 2 }, actions: [{ type: 'pop_vlan' }] }), 'pop-without-vlan'),
      add(flow(5, { match: { inPort: 2 }, actions: [{ type: 'output', port: OFPP.IN_PORT }] }), 'ok-2'),
    ];
    const e = await conn!.apply(batch).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowFlowError);
    expect((e as OpenFlowFlowError).failures.map((f) => `${f.flow}: ${f.typeName}/${f.codeName}`)).toEqual([
      'arp-op-without-arp: OFPET_BAD_ACTION/OFPBAC_MATCH_INCONSISTENT',
      'goto-backwards: OFPET_BAD_INSTRUCTION/OFPBIC_BAD_TABLE_ID',
      'pop-without-vlan: OFPET_BAD_ACTION/OFPBAC_MATCH_INCONSISTENT',
    ]);
    expect(dumpFlows('br-tun', 'table=4')).toEqual([
      'table=4 priority=1 cookie=0x99 match=in_port=1 actions=output:2',
      'table=4 priority=5 cookie=0x99 match=in_port=2 actions=IN_PORT',
    ]);
  });

  it('applies 5,000 flows in one batch, and deletes them by cookie', async () => {
    const mods = macFlows(5000, 3, 0x5000n);
    const start = Date.now();
    await conn!.apply(mods);
    const ms = Date.now() - start;
    const dumped = dumpFlows('br-tun', 'table=3');
    expect(dumped).toHaveLength(5000);
    expect(dumped).toContain('table=3 priority=50 cookie=0x5000 match=dl_dst=02:00:00:00:13:87,dl_vlan=1000 actions=pop_vlan,output:2');
    console.log(`5,000 flow mods and a barrier: ${ms} ms`);
    await conn!.apply([{ command: 'delete', flow: { table: 3, priority: 0, cookie: 0x5000n, match: {} }, cookieMask: ~0n & 0xffffffffffffffffn }]);
    expect(dumpFlows('br-tun', 'table=3')).toEqual([]);
  });

  it('refuses a bridge that does not allow OpenFlow 1.3, and a bridge that is not there', async () => {
    const old = await OpenFlowConnection.connect(mgmt('br-old')).catch((x: unknown) => x);
    expect(old).toBeInstanceOf(OpenFlowVersionError);
    expect(old).toMatchObject({ peerVersions: [1] });
    const missing = await OpenFlowConnection.connect(mgmt('br-nope')).catch((x: unknown) => x);
    expect(missing).toBeInstanceOf(OpenFlowConnectError);
    expect((missing as OpenFlowConnectError).message).toContain(mgmt('br-nope'));
  });

  it('bundled: "delete every flow + add" replaces the table with exactly what ovs-ofctl installs', async () => {
    expect(dumpFlows('br-tun')).not.toEqual(GOLDEN_DUMP); // what earlier tests left
    await conn!.apply([DELETE_ALL, ...ADDS.map(labeled)], { bundle: true });
    expect(dumpFlows('br-tun')).toEqual(GOLDEN_DUMP);
    expect(dumpFlows('br-tun')).toEqual(dumpFlows('br-ref'));
    const many = macFlows(1000, 6, 0x6000n);
    await conn!.apply([DELETE_ALL, ...many], { bundle: true });
    const dumped = dumpFlows('br-tun');
    expect(dumped).toHaveLength(1000);
    expect(dumped.every((l) => l.startsWith('table=6 priority=50 cookie=0x6000 '))).toBe(true);
  });

  it('bundled: one bad flow (refused at add, or at commit) installs nothing and is the only one named', async () => {
    const before = dumpFlows('br-tun');
    const flow = (priority: number, rest: Partial<Flow>): Flow => ({ table: 7, priority, cookie: 0x77n, match: {}, ...rest });
    const e = await conn!.apply([
      DELETE_ALL,
      add(flow(1, { match: { inPort: 1 }, actions: [{ type: 'output', port: 2 }] }), 'ok-1'),
      add(flow(2, { match: { inPort: 2 }, actions: [{ type: 'set_field', field: 'arp_op', value: 2 }] }), 'arp-op-without-arp'),
      add(flow(3, { match: { inPort: 2 }, actions: [{ type: 'output', port: 1 }] }), 'ok-2'),
    ], { bundle: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenFlowFlowError);
    expect((e as OpenFlowFlowError).failures.map((f) => `${f.label}: ${f.typeName}/${f.codeName}`)).toEqual([
      'arp-op-without-arp: OFPET_BAD_ACTION/OFPBAC_MATCH_INCONSISTENT',
    ]);
    expect(dumpFlows('br-tun')).toEqual(before);
    // OVS checks overlaps only when it commits: it names the flow by its xid, then fails the commit.
    // Same table and priority as the 1,000 flows of table 6, a wider match: it overlaps them.
    const wider: Flow = { table: 6, priority: 50, cookie: 0n, match: { vlanVid: 1 } };
    const e2 = await conn!.apply([
      add(flow(4, { match: { inPort: 1 } }), 'ok-3'),
      { command: 'add', flow: wider, flags: OFPFF.CHECK_OVERLAP, label: 'overlaps' },
    ], { bundle: true }).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(OpenFlowFlowError);
    expect((e2 as OpenFlowFlowError).failures?.map((f) => `${f.label}: ${f.typeName}/${f.codeName}`)).toEqual(['overlaps: OFPET_FLOW_MOD_FAILED/OFPFMFC_OVERLAP']);
    expect(dumpFlows('br-tun')).toEqual(before);
    await expect(conn!.apply([add(flow(5, {}), 'after')], { bundle: true })).resolves.toBeUndefined();
    expect(dumpFlows('br-tun', 'table=7')).toEqual(['table=7 priority=5 cookie=0x77 match=- actions=drop']);
  });

  it("5,000 flows bundled and not: vswitchd's CPU ticks for each (measured, not asserted)", async () => {
    const pid = ovs!.pids.vswitchd;
    const ticks = (): number => {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime + stime
    };
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 1500)); // revalidators finish
    const run = async (bundle: boolean): Promise<string> => {
      await conn!.apply([DELETE_ALL], { bundle });
      await settle();
      const t0 = ticks();
      const start = Date.now();
      await conn!.apply(macFlows(5000, 3, 0x5000n), { bundle });
      const ms = Date.now() - start;
      await settle();
      expect(dumpFlows('br-tun', 'table=3')).toHaveLength(5000);
      return `${bundle ? 'bundled    ' : 'not bundled'}: ${ticks() - t0} ticks of vswitchd CPU (1 tick = 10 ms), apply ${ms} ms`;
    };
    const lines = [await run(false), await run(true)];
    console.log(`5,000 flow mods into a netdev bridge:\n  ${lines.join('\n  ')}`);
  });

  it('rejects a pending batch and announces closed when vswitchd is killed', async () => {
    const pid = ovs!.pids.vswitchd;
    // Stopped first, so the barrier cannot be answered before the kill.
    process.kill(pid, 'SIGSTOP');
    const pending = conn!.apply([add({ table: 5, priority: 1, cookie: 0n, match: {} }, 'never')]).catch((x: unknown) => x);
    process.kill(pid, 'SIGKILL');
    const e = await pending;
    expect(e).toBeInstanceOf(OpenFlowClosedError);
    expect(e).toMatchObject({ byPeer: true });
    await conn!.closed;
    expect(conn!.closeReason?.byPeer).toBe(true);
    await expect(conn!.barrier()).rejects.toBeInstanceOf(OpenFlowClosedError);
  });
});
