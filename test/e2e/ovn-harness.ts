// What the OVN end-to-end tests share: one `local up --ovn` emulation per test file (torn down in
// afterAll even when a test failed), scenarios run through the coordinator, and independent
// witnesses of what OVN and OVS hold: ovn-nbctl, ovn-sbctl and ovs-vsctl, parsed just enough for
// the assertions (none of it goes through Merak's own OVSDB client).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { agentV1 } from '@merak/proto';
import { afterAll, beforeAll, expect } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import type { EmulatedVhost, LocalOvn } from '../../lab/local/emulation.js';
import { shortId } from '../../coordinator/ovn/names.js';
import type { OvnPortSplit, PingOutcome, Quantiles } from '../../coordinator/report/report.js';
import { linksWithPrefix, namespacesWithPrefix, ovsdbJsonRows, processesMentioning, requireRoot, sweepEmulation, uniquePrefix, vsctlList } from '../fixtures/local-emulation.js';

const quiet = (): void => undefined;
const sh = (cmd: string, args: readonly string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

export interface ReportJson {
  vms: { requested: number; ready: number; failed: number };
  ping: { pairsPassed: number; pairsFailed: number; isolationPassed: number; isolationFailed: number; crossHostPairs: number; failedPairs: PingOutcome[]; firstReplyMs: Quantiles };
  ovn?: OvnPortSplit;
}

export interface Run {
  readonly id: string;
  readonly name: string;
  readonly error: string;
  readonly vms: { requested: number; ready: number; failed: number } | undefined;
  readonly report: ReportJson;
}

/** NB tables the provider writes; after a delete none may hold a row of the scenario. */
const NB_TABLES = ['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Port_Group', 'ACL'] as const;

export class OvnE2e {
  readonly prefix: string;
  readonly dir: string;
  private upValue: LocalUp | undefined;
  private clientValue: CoordinatorClient | undefined;

  /** Registers beforeAll (a `hosts`-vhost emulation with OVN) and afterAll (down, sweep, folder). */
  constructor(tag: string, hosts = 5) {
    requireRoot();
    this.prefix = uniquePrefix(tag);
    this.dir = mkdtempSync(join(tmpdir(), `merak-${tag}-`));
    beforeAll(async () => {
      this.upValue = await localUp({ dir: this.localDir, hosts, prefix: this.prefix, log: quiet, ovn: true });
      this.clientValue = connect({ localDir: this.localDir });
    }, 240_000);
    afterAll(async () => {
      this.clientValue?.close();
      await localDown(this.localDir, quiet).catch(() => undefined);
      await sweepEmulation(join(this.localDir, 'emulation'), this.prefix);
      rmSync(this.dir, { recursive: true, force: true });
    }, 240_000);
  }

  get localDir(): string {
    return join(this.dir, 'local');
  }
  get client(): CoordinatorClient {
    return this.clientValue!;
  }
  get vhosts(): readonly EmulatedVhost[] {
    return this.upValue!.emulation.vhosts;
  }
  get ovn(): LocalOvn {
    return this.upValue!.emulation.ovn!;
  }

  nbctl(...args: string[]): string {
    return sh('ovn-nbctl', [`--db=${this.ovn.nb}`, '--timeout=20', ...args]);
  }
  sbctl(...args: string[]): string {
    return sh('ovn-sbctl', [`--db=${this.ovn.sb}`, '--timeout=20', ...args]);
  }

  /** Creates the scenario, waits until it settles (its ping test included), returns its report. */
  async run(yaml: string): Promise<Run> {
    const created = await this.client.createScenario(yaml, 'yaml');
    await this.client.watch(created.id, () => undefined);
    const done = await this.client.getScenario(created.id);
    const report = JSON.parse((await this.client.getReport(created.id)).json) as ReportJson;
    return { id: created.id, name: done.name, error: done.error, vms: done.vms, report };
  }

  /** Every VM of `name` the agents hold, with the vhost whose agent holds it. */
  async vmsOf(name: string): Promise<Array<{ host: string; vm: agentV1.VmState }>> {
    const all = await Promise.all(this.vhosts.map(async (v) => (await v.client.listVms()).vms.filter((x) => x.name.startsWith(`${name}-`)).map((vm) => ({ host: v.name, vm }))));
    return all.flat();
  }

  /** SB, by `ovn-sbctl find Port_Binding` and `list Chassis`: logical port -> the name of the chassis it is bound on ('' = none). */
  bindings(): Map<string, string> {
    const chassis = new Map(ovsdbJsonRows(this.sbctl('--format=json', '--columns=_uuid,name', 'list', 'Chassis')).map((c) => [String(c._uuid), String(c.name)]));
    const out = new Map<string, string>();
    for (const pb of ovsdbJsonRows(this.sbctl('--format=json', '--columns=logical_port,chassis', 'find', 'Port_Binding'))) {
      const c = pb.chassis;
      out.set(String(pb.logical_port), typeof c === 'string' ? (chassis.get(c) ?? `unknown chassis ${c}`) : '');
    }
    return out;
  }

  /** `ip netns exec VM ping` as a user runs it: the number of replies (0 when none came). */
  pingFrom(vm: string, ip: string, count = 3): number {
    try {
      const out = sh('ip', ['netns', 'exec', vm, 'ping', '-c', String(count), '-i', '0.2', '-W', '2', ip]);
      return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
    } catch (e) {
      return Number(/(\d+) received/.exec(String((e as { stdout?: string }).stdout ?? ''))?.[1] ?? 0);
    }
  }

  /** Rows of scenario `id` still in NB, found by external_ids and, independently, by name. */
  nbLeftovers(id: string): string[] {
    const short = shortId(id);
    const byIds = NB_TABLES.flatMap((t) => ovsdbJsonRows(this.nbctl('--format=json', '--columns=_uuid', 'find', t, `external_ids:merak-scenario=${id}`)).map((r) => `${t} ${String(r._uuid)}`));
    const byName = ['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Port_Group'].flatMap((t) =>
      ovsdbJsonRows(this.nbctl('--format=json', '--columns=name', 'list', t)).map((r) => `${t} ${String(r.name)}`).filter((n) => n.includes(`merak.${short}.`) || n.includes(`merak_${short}_`)));
    return [...byIds, ...byName];
  }

  /** What northd made of scenario `id` still in SB: datapaths, port bindings, port groups. */
  sbLeftovers(id: string): string[] {
    const short = shortId(id);
    const mine = (s: string): boolean => s.includes(`merak.${short}.`) || s.includes(`merak_${short}_`);
    const datapaths = ovsdbJsonRows(this.sbctl('--format=json', '--columns=external_ids', 'list', 'Datapath_Binding')).map((r) => `Datapath_Binding ${JSON.stringify(r.external_ids)}`).filter(mine);
    const ports = ovsdbJsonRows(this.sbctl('--format=json', '--columns=logical_port', 'list', 'Port_Binding')).map((r) => `Port_Binding ${String(r.logical_port)}`).filter(mine);
    const groups = ovsdbJsonRows(this.sbctl('--format=json', '--columns=name', 'list', 'Port_Group')).map((r) => `Port_Group ${String(r.name)}`).filter(mine);
    return [...datapaths, ...ports, ...groups];
  }

  /** A vhost's br-ovn ports that are not OVN's Geneve tunnels, as "vhost: port (type)". */
  private brOvnNonTunnelPorts(v: EmulatedVhost): string[] {
    const ports = new Set(sh('ovs-vsctl', [`--db=unix:${v.dbSocket}`, 'list-ports', 'br-ovn']).split('\n').filter(Boolean));
    return vsctlList(v.dbSocket, 'Interface', ['name', 'type']).filter((i) => ports.has(String(i.name)) && i.type !== 'geneve').map((i) => `${v.name}: ${String(i.name)} (${String(i.type)})`);
  }

  /** Geneve tunnel ports on a vhost's br-ovn (ovn-controller's, one per other chassis). */
  tunnels(v: EmulatedVhost): string[] {
    const ports = new Set(sh('ovs-vsctl', [`--db=unix:${v.dbSocket}`, 'list-ports', 'br-ovn']).split('\n').filter(Boolean));
    return vsctlList(v.dbSocket, 'Interface', ['name', 'type']).filter((i) => ports.has(String(i.name)) && i.type === 'geneve').map((i) => String(i.name));
  }

  /**
   * Deletes the scenario and checks, from outside, that nothing of it is left: no NB row, no SB
   * datapath/binding/group, no VM port on any br-ovn, no VM namespace, no VM on any agent.
   */
  async deleteAndCheckGone(run: Run): Promise<void> {
    const ports = (await this.vmsOf(run.name)).map(({ host, vm }) => `${host}: ${vm.portName}`);
    await this.client.deleteScenario(run.id);
    await this.client.watch(run.id, () => undefined);
    const gone = await this.client.getScenario(run.id);
    expect(gone.error).toBe('');
    expect(this.nbLeftovers(run.id)).toEqual([]);
    // northd removes the SB rows once it has seen the NB change: a moment after the delete returns.
    await eventually(() => this.sbLeftovers(run.id), []);
    for (const v of this.vhosts) {
      // None of the scenario's VM ports, nor any port bound to one of its logical ports.
      const left = vsctlList(v.dbSocket, 'Interface', ['name', 'external_ids'])
        .filter((i) => ports.includes(`${v.name}: ${String(i.name)}`) || String((i.external_ids as Record<string, string>)['iface-id'] ?? '').startsWith(`merak.${shortId(run.id)}.`));
      expect(left.map((i) => `${v.name}: ${String(i.name)}`)).toEqual([]);
      // ovn-controller keeps its Geneve port to every other chassis as long as that chassis
      // exists, whether or not any logical port needs it: that is OVN's behaviour, not a leftover
      // of the scenario. So: exactly one per other vhost, no more.
      expect(this.tunnels(v)).toHaveLength(this.vhosts.length - 1);
    }
    expect(await this.vmsOf(run.name)).toEqual([]);
    expect(namespacesWithPrefix(`${run.name}-`)).toEqual([]);
  }

  /**
   * Every vhost's vswitchd sends its Geneve packets to each other vhost's br-phy MAC (never to the
   * MAC of the eth0 under it, where nothing would take them), as `ovs-appctl tnl/neigh/show` says.
   */
  tunnelNeighborsRight(): string[] {
    const brPhyMac = new Map(this.vhosts.map((v) => [v.underlayIp, sh('ip', ['-n', v.name, '-j', 'link', 'show', 'dev', 'br-phy']).match(/"address":"([0-9a-f:]+)"/)![1]!]));
    const wrong: string[] = [];
    for (const v of this.vhosts) {
      const shown = sh('ovs-appctl', ['-t', join(dirname(v.dbSocket), 'ovs-vswitchd.ctl'), 'tnl/neigh/show']);
      for (const [ip, mac] of brPhyMac) {
        if (ip === v.underlayIp) continue;
        const m = new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+(\\S+)\\s+br-phy`, 'm').exec(shown);
        if (m?.[1] !== mac) wrong.push(`${v.name}: ${ip} -> ${m?.[1] ?? 'unresolved'} (br-phy there is ${mac})`);
      }
    }
    return wrong;
  }

  /**
   * Checks each br-ovn holds only OVN's own Geneve tunnels (the scenarios gone), then `local down`,
   * then nothing of the emulation on the machine.
   */
  async downAndCheckGone(): Promise<void> {
    expect(this.vhosts.flatMap((v) => this.brOvnNonTunnelPorts(v))).toEqual([]);
    const report = await localDown(this.localDir, quiet);
    expect(report.failed).toEqual([]);
    expect(namespacesWithPrefix(this.prefix)).toEqual([]);
    expect(linksWithPrefix(this.prefix)).toEqual([]);
    expect(processesMentioning(this.localDir)).toEqual([]);
    expect(existsSync(this.localDir)).toBe(false);
  }
}

/** A run that went through: no failed ping pair (checked first: a red run names them), no error, all `vms` VMs ready. */
export function expectAllReady(run: Run, vms: number): void {
  expect(run.report.ping.failedPairs).toEqual([]);
  expect(run.error).toBe('');
  expect(run.vms).toMatchObject({ requested: vms, ready: vms, failed: 0 });
}

/** Polls `read` until it equals `want` (at most `ms`), then asserts it does: a red run shows the last value. */
export async function eventually<T>(read: () => T, want: T, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = read();
  while (JSON.stringify(last) !== JSON.stringify(want) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = read();
  }
  expect(last).toEqual(want);
}

/** Quantiles measured for `n` VMs, every one of them above 0. */
export function measured(q: Quantiles | undefined, n: number): void {
  expect(q?.count).toBe(n);
  expect(q!.p50).toBeGreaterThan(0);
  expect(q!.max).toBeGreaterThanOrEqual(q!.p50);
}
