// `merak local up --ovn` as the programmatic API runs it: OVN central in its own namespace on the
// underlay and an ovn-controller per vhost, checked from outside with OVN's and OVS's own tools;
// a logical switch with a port on each of two vhosts, VMs made by hand on them, pinging over
// Geneve; and after `down`, nothing of the emulation left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsDelete } from '@merak/native';
import { agentV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localStatus } from '../../lab/cli/local.js';
import { type EmulationState, type LocalEmulation, readState, startLocalEmulation } from '../../lab/index.js';
import { isRunning } from '../../lab/local/process-record.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix, vsctl, vsctlList } from '../fixtures/local-emulation.js';
import { eventually, nbctl, sbShow, sbctl, sh } from './ovn-tools.js';

requireRoot();
const prefix = uniquePrefix('o');
const dir = mkdtempSync(join(tmpdir(), 'merak-ovn-'));
const local = join(dir, 'local');
const stateDir = join(local, 'emulation');
let emu: LocalEmulation;
let upMs = 0;

beforeAll(async () => {
  const t0 = Date.now();
  emu = await startLocalEmulation({ prefix, hosts: 3, stateDir, ovn: true });
  upMs = Date.now() - t0;
  console.log(`local emulation with OVN, 3 vhosts: up in ${upMs} ms`);
}, 180_000);

afterAll(async () => {
  await sweepEmulation(stateDir, prefix);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('local emulation with OVN', () => {
  it('runs OVN central: NB and SB answer on their unix sockets and over TCP on the underlay, northd is active', () => {
    const ovn = emu.ovn!;
    expect(ovn.nb).toBe(`unix:${join(stateDir, 'ovn-central', 'nb.sock')}`);
    expect(ovn.nbTcp).toBe(`tcp:${ovn.underlayIp}:6641`);
    expect(ovn.sbTcp).toBe(`tcp:${ovn.underlayIp}:6642`);
    expect(sh('ip', ['netns', 'list'])).toContain(ovn.netns);
    // Its address: the one after the vhosts' on the emulation's underlay.
    expect(emu.vhosts.map((v) => v.underlayIp)).not.toContain(ovn.underlayIp);
    expect(sh('ip', ['-n', ovn.netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`${ovn.underlayIp}/`);
    expect(sh('ovn-appctl', ['-t', ovn.northdCtl, 'status']).trim()).toBe('Status: active');
    expect(nbctl(ovn.nb, 'get', 'NB_Global', '.', '_uuid')).toMatch(/^[0-9a-f-]{36}\n$/);
    // Over TCP from a vhost, through its userspace datapath and the underlay.
    const fromVhost = (tool: string, db: string): string => sh('nsenter', [`--net=/run/netns/${emu.vhosts[0]!.name}`, '--', tool, `--db=${db}`, '--timeout=10', 'show']);
    expect(() => fromVhost('ovn-nbctl', ovn.nbTcp)).not.toThrow();
    expect(fromVhost('ovn-sbctl', ovn.sbTcp)).toMatch(new RegExp(`Chassis "?${emu.vhosts[1]!.name}"?\n`));
    for (const log of ['nb.log', 'sb.log', 'ovn-northd.log']) expect(existsSync(join(ovn.dir, log))).toBe(true);
  });

  it('has one chassis per vhost, named by it, Geneve from its underlay address, and a tunnel to every other vhost on br-ovn', async () => {
    const shown = sbShow(emu.ovn!.sb);
    expect(shown.map((c) => c.name).sort()).toEqual(emu.vhosts.map((v) => v.name).sort());
    for (const v of emu.vhosts) {
      const c = shown.find((x) => x.name === v.name)!;
      expect(c.hostname).toBe(v.name);
      expect(c.encaps).toEqual([{ type: 'geneve', ip: v.underlayIp }]);
      expect(vsctlList(v.dbSocket, 'Open_vSwitch', ['external_ids'])[0]!.external_ids).toMatchObject({
        'system-id': v.name, hostname: v.name, 'ovn-remote': emu.ovn!.sb, 'ovn-encap-type': 'geneve', 'ovn-encap-ip': v.underlayIp,
        'ovn-bridge': 'br-ovn', 'ovn-bridge-datapath-type': 'netdev',
      });
      const others = emu.vhosts.filter((o) => o !== v).map((o) => o.underlayIp).sort();
      const tunnels = await eventually(`geneve ports on ${v.name}'s br-ovn`, () => {
        const ports = new Set(vsctl(v.dbSocket, 'list-ports', 'br-ovn').split('\n').filter(Boolean));
        const geneve = vsctlList(v.dbSocket, 'Interface', ['name', 'type', 'options']).filter((i) => i.type === 'geneve' && ports.has(String(i.name)));
        return geneve.length === others.length ? geneve : undefined;
      });
      expect(tunnels.map((t) => (t.options as Record<string, string>).remote_ip).sort()).toEqual(others);
      expect(vsctl(v.dbSocket, 'get', 'Bridge', 'br-ovn', 'datapath_type').trim()).toBe('netdev');
      expect(isRunning({ pid: v.ovnControllerPid!, startTime: readState(stateDir)!.vhosts[v.index]!.processes.ovnController!.startTime })).toBe(true);
    }
  });

  it('shows OVN central and every ovn-controller in `local status`', async () => {
    const status = await localStatus(local);
    expect(status).toMatch(new RegExp(`OVN central ${emu.ovn!.netns} .*; northd active`));
    // One row per process: what it is, running, its PID.
    const row = (what: string, pid: number): RegExp => new RegExp(`^\\s+${what}\\s+running\\s+${pid}\\s`, 'm');
    expect(status).toMatch(row('OVN NB ovsdb-server', emu.ovn!.pids.nb));
    expect(status).toMatch(row('OVN SB ovsdb-server', emu.ovn!.pids.sb));
    expect(status).toMatch(row('ovn-northd', emu.ovn!.pids.northd));
    for (const v of emu.vhosts) expect(status).toMatch(row(`ovn-controller of ${v.name}`, v.ovnControllerPid!));
  });

  it('binds a logical switch port on each of two vhosts: the VMs ping each other across vhosts over Geneve, at MTU 1442', async () => {
    const nb = emu.ovn!.nb;
    const ls = `${prefix}-ls`;
    const vms = [0, 1].map((i) => ({ ns: `${prefix}-vm${i}`, vhost: emu.vhosts[i]!, port: `${prefix}-p${i}`, mac: `02:00:00:0a:00:0${i + 1}`, ip: `10.200.0.${i + 1}` }));
    try {
      nbctl(nb, 'ls-add', ls);
      for (const vm of vms) {
        nbctl(nb, 'lsp-add', ls, vm.port, '--', 'lsp-set-addresses', vm.port, `${vm.mac} ${vm.ip}`, '--', 'lsp-set-port-security', vm.port, `${vm.mac} ${vm.ip}`);
        // A VM by hand, as the agent makes one: a namespace, a veth whose outer end is an OVS port.
        const outer = `vp${vm.port.slice(-1)}`;
        sh('ip', ['netns', 'add', vm.ns]);
        sh('ip', ['-n', vm.vhost.name, 'link', 'add', outer, 'mtu', '1442', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm.ns]);
        sh('ip', ['-n', vm.ns, 'link', 'set', 'eth0', 'address', vm.mac, 'mtu', '1442', 'up']);
        sh('ip', ['-n', vm.ns, 'addr', 'add', `${vm.ip}/24`, 'dev', 'eth0']);
        sh('ip', ['-n', vm.vhost.name, 'link', 'set', outer, 'up']);
        sh('nsenter', [`--net=/run/netns/${vm.ns}`, '--', 'ethtool', '-K', 'eth0', 'tx', 'off']);
        vsctl(vm.vhost.dbSocket, 'add-port', 'br-ovn', outer, '--', 'set', 'Interface', outer, `external_ids:iface-id=${vm.port}`);
      }
      for (const vm of vms) {
        const outer = `vp${vm.port.slice(-1)}`;
        await eventually(`ovn-installed on ${vm.port}`, () => (vsctl(vm.vhost.dbSocket, 'get', 'Interface', outer, 'external_ids').includes('ovn-installed="true"') ? true : undefined));
      }
      // Each port bound on its own vhost's chassis, as SB says.
      const shown = sbShow(emu.ovn!.sb);
      for (const vm of vms) expect(shown.find((c) => c.name === vm.vhost.name)!.ports).toContain(vm.port);
      expect(sbctl(emu.ovn!.sb, '--bare', '--columns=up', 'find', 'Port_Binding', `logical_port=${vms[0]!.port}`).trim()).toBe('true');
      // The first packet to a new remote VTEP may be dropped while OVS resolves its MAC: retried.
      const ping = (args: string[]): string => sh('ip', ['netns', 'exec', vms[0]!.ns, 'ping', ...args, vms[1]!.ip]);
      await eventually('a first reply', () => (ping(['-c', '1', '-W', '1']), true), 15_000);
      expect(ping(['-c', '3', '-i', '0.2', '-W', '2'])).toMatch(/3 packets transmitted, 3 received/);
      // The largest frame that fits the underlay with Geneve's 58 bytes: 1442 - 28 of ICMP payload, not fragmented.
      expect(ping(['-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '1414'])).toMatch(/2 packets transmitted, 2 received/);
    } finally {
      await netnsDelete(vms.map((vm) => vm.ns).filter((n) => existsSync(`/run/netns/${n}`)));
    }
  }, 90_000);

  it('VMs made by the agents on a logical switch (VmSpec.ovn) are ready once bound and installed, and ping across vhosts', async () => {
    const nb = emu.ovn!.nb;
    const ls = `${prefix}-ls2`;
    const vms = [1, 2].map((h, i) => ({
      vhost: emu.vhosts[h]!,
      spec: agentV1.VmSpec.fromPartial({
        id: `${prefix}-a${i}`, name: `${prefix}-a${i}`, ip: `10.201.0.${i + 1}`, prefixLength: 24, mac: `02:00:00:0b:00:0${i + 1}`, mtu: 1442,
        portKind: agentV1.PortKind.PORT_KIND_VETH, ifaceId: `${prefix}-a${i}`, ovn: { timeoutMs: 30_000 },
      }),
    }));
    nbctl(nb, 'ls-add', ls);
    for (const { spec } of vms) nbctl(nb, 'lsp-add', ls, spec.ifaceId, '--', 'lsp-set-addresses', spec.ifaceId, `${spec.mac} ${spec.ip}`, '--', 'lsp-set-port-security', spec.ifaceId, `${spec.mac} ${spec.ip}`);
    const results = await Promise.all(vms.map(({ vhost, spec }) => vhost.client.applyAll({ operations: [{ op: { $case: 'create', value: spec }, startOffsetMs: 0 }], concurrency: 1, startAtUnixMs: 0 })));
    for (const [r] of results) expect({ status: r!.status, error: r!.error?.message ?? '' }).toEqual({ status: agentV1.VmStatus.VM_STATUS_READY, error: '' });
    // On br-ovn with its iface-id, bound on its vhost's chassis.
    const shown = sbShow(emu.ovn!.sb);
    for (const { vhost, spec } of vms) {
      expect(vsctl(vhost.dbSocket, 'list-ports', 'br-ovn')).toContain(results[vms.findIndex((v) => v.spec === spec)]![0]!.portName);
      expect(shown.find((c) => c.name === vhost.name)!.ports).toContain(spec.ifaceId);
    }
    const ping = (args: string[]): string => sh('ip', ['netns', 'exec', vms[0]!.spec.name, 'ping', ...args, vms[1]!.spec.ip]);
    await eventually('a first reply', () => (ping(['-c', '1', '-W', '1']), true), 15_000);
    expect(ping(['-c', '3', '-i', '0.2', '-W', '2'])).toMatch(/3 packets transmitted, 3 received/);
    const deleted = await Promise.all(vms.map(({ vhost, spec }) => vhost.client.applyAll({ operations: [{ op: { $case: 'delete', value: { id: spec.id, name: spec.name } }, startOffsetMs: 0 }], concurrency: 1, startAtUnixMs: 0 })));
    for (const [r] of deleted) expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
  }, 90_000);

  it('`down` removes everything: central and vhosts, their namespaces, links, processes and files; ovn-controllers exit cleanly', async () => {
    const state = readState(stateDir) as EmulationState;
    const recorded = [
      ...Object.values(state.ovn!.processes),
      ...state.vhosts.flatMap((v) => Object.values(v.processes)),
    ].filter((p) => p !== undefined);
    expect(recorded).toHaveLength(3 + 3 * 4);
    // Before the central goes: the chassis leave SB when their controllers exit (checked on the record of what was removed).
    const report = await emu.stop();
    expect(report.failed).toEqual([]);
    for (const v of emu.vhosts) expect(report.removed).toContainEqual(expect.stringMatching(new RegExp(`^ovn-controller of ${v.name} \\(pid \\d+, exited\\)$`)));
    expect(report.removed).toContain(`namespace ${state.ovn!.netns}`);
    for (const p of recorded) expect(isRunning(p)).toBe(false);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(stateDir)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(prefix);
  }, 120_000);
});
