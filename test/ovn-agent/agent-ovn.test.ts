// The agent in OVN mode against a real OVN: a vhost (namespace, private OVS with the userspace
// datapath, the agent as a process), NB + SB ovsdb-servers and ovn-northd in a temp folder (unix
// sockets), and one ovn-controller for the vhost. The test is the CMS: it writes the logical switch
// and ports with ovn-nbctl, has the agent create the VMs, and checks from outside with ovs-vsctl,
// ovn-sbctl, ip and ping.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { agentV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OvnChassis, startOvnChassis } from '../fixtures/ovn-chassis.js';
import { type OvnCentral, startOvnCentral } from '../fixtures/ovn-central.js';
import { waitFor } from '../fixtures/processes.js';
import { type TestVhost, namespacesWithPrefix, startTestVhost } from '../fixtures/local-vhost.js';

const OVN_BRIDGE = 'br-ovn';
let t: TestVhost | undefined;
let central: OvnCentral | undefined;
let chassis: OvnChassis | undefined;
let work = '';

const vh = (): TestVhost => t!;
const nb = (): OvnCentral => central!;
const lsp = (i: number): string => `${vh().prefix}-lsp${i}`;
const mac = (i: number): string => `02:0e:00:00:00:${(i + 16).toString(16)}`;
const ip = (i: number): string => `10.77.0.${i + 10}`;

function spec(i: number, over: Partial<agentV1.VmSpec> = {}): agentV1.VmSpec {
  return agentV1.VmSpec.fromPartial({
    id: `${vh().prefix}-id${i}`, name: `${vh().prefix}-vm${i}`, ip: ip(i), prefixLength: 24, mac: mac(i),
    ifaceId: lsp(i), ovn: { timeoutMs: 30_000 }, ...over,
  });
}
const create = (s: agentV1.VmSpec, maybeExists = false): agentV1.VmOperation => ({ op: { $case: 'create', value: s }, startOffsetMs: 0, ...(maybeExists ? { maybeExists } : {}) });
const del = (s: { id: string; name: string }): agentV1.VmOperation => ({ op: { $case: 'delete', value: { id: s.id, name: s.name } }, startOffsetMs: 0 });
/** The results in the order of `operations` (the agent answers each VM as it finishes). */
async function apply(operations: agentV1.VmOperation[]): Promise<agentV1.VmResult[]> {
  const results = await vh().vhost.client.applyAll({ operations, concurrency: 8, startAtUnixMs: 0 });
  const ids = operations.map((o) => o.op!.value.id);
  return [...results].sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
}
/** The VMs' namespaces present (not the vhost's own). */
const vmNamespaces = (): string[] => namespacesWithPrefix(`${vh().prefix}-vm`);

const ports = (bridge: string): string[] => vh().vsctl('list-ports', bridge).split('\n').filter(Boolean);
/** external_ids:KEY of an Interface, unquoted ('' when the key is absent). */
const ifaceId = (port: string, key: string): string => {
  try {
    return vh().vsctl('get', 'Interface', port, `external_ids:${key}`).trim().replace(/^"(.*)"$/, '$1');
  } catch {
    return '';
  }
};
/** The ports the installed VMs got, by VM index. */
const portOf = new Map<number, string>();
/** The chassis name a logical port is bound to in the SB ('' when unbound or absent). */
function boundChassis(port: string): string {
  const uuid = nb().sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port=${port}`).trim();
  return uuid === '' ? '' : nb().sbctl('--bare', '--columns=name', 'list', 'Chassis', uuid).trim();
}
function metrics(): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ socketPath: vh().vhost.httpSocket, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

beforeAll(async () => {
  t = await startTestVhost('ovn');
  work = mkdtempSync(join(tmpdir(), `merak-${t.prefix}-central-`));
  central = await startOvnCentral(work);
  central.nbctl('ls-add', `${t.prefix}-ls`);
  // Ports 0..2 exist in NB; port 9 never does (its VM must time out).
  for (const i of [0, 1, 2]) central.nbctl('lsp-add', `${t.prefix}-ls`, lsp(i), '--', 'lsp-set-addresses', lsp(i), `${mac(i)} ${ip(i)}`);
}, 120_000);

afterAll(async () => {
  try {
    // ovn-controller first: its exit removes its Chassis and needs the vhost's OVSDB.
    await chassis?.stop();
  } finally {
    try {
      await t?.cleanup();
    } finally {
      await central?.stop();
      if (work && !process.env.MERAK_KEEP_OVS) rmSync(work, { recursive: true, force: true });
    }
  }
}, 120_000);

describe('agent with OVN as the control plane', () => {
  it('refuses an OVN VM on a vhost where ovn-controller is not configured, then where its bridge does not exist', async () => {
    const [r] = await apply([create(spec(0))]);
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_FAILED);
    expect(r!.error).toMatchObject({ code: 'FAILED_PRECONDITION', step: 'attach' });
    expect(r!.error!.message).toMatch(/external_ids:ovn-remote.*ovn-controller is not configured/);
    // Configured, but no ovn-controller has made its bridge yet.
    vh().vsctl('set', 'Open_vSwitch', '.', `external_ids:ovn-remote=${nb().sb}`, `external_ids:ovn-bridge=${OVN_BRIDGE}`);
    const [r2] = await apply([create(spec(0))]);
    expect(r2!.error).toMatchObject({ code: 'FAILED_PRECONDITION', step: 'attach' });
    expect(r2!.error!.message).toMatch(new RegExp(`integration bridge ${OVN_BRIDGE} does not exist.*is ovn-controller running`));
    // Nothing left behind by either.
    expect(vmNamespaces()).toEqual([]);
    expect(ports('br-int')).toEqual([]);
  });

  it('binds VMs through ovn-controller: ready once ovn-installed, bound to the vhost\'s chassis in the SB, and they ping each other', async () => {
    const v = vh();
    chassis = await startOvnChassis({ netns: v.vhost.name, ovsDir: dirname(v.vhost.dbSocket), dbSocket: v.vhost.dbSocket, sb: nb().sb, systemId: v.vhost.name, bridge: OVN_BRIDGE, encapIp: '127.0.0.1' });
    // ovn-controller makes its bridge and registers its chassis.
    await waitFor(() => v.vsctl('list-br').split('\n').includes(OVN_BRIDGE), 20_000, `${OVN_BRIDGE} exists`);
    await waitFor(() => nb().sbctl('--bare', '--columns=name', 'list', 'Chassis').split('\n').includes(v.vhost.name), 20_000, 'chassis registered');

    const results = await apply([create(spec(0)), create(spec(1, { portKind: agentV1.PortKind.PORT_KIND_INTERNAL }))]);
    for (const r of results) {
      expect(r.error?.message ?? '').toBe('');
      expect(r.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
      expect(r.ofport).toBeGreaterThan(0);
      expect(r.steps.map((s) => s.step).at(-1)).toBe('installed');
    }
    expect(results[0]!.steps.map((s) => s.step)).toEqual(['namespace', 'port', 'attach', 'configure', 'ready', 'installed']);
    expect(results[1]!.steps.map((s) => s.step)).toEqual(['namespace', 'attach', 'move', 'configure', 'installed']);
    for (const [i, r] of results.entries()) {
      // On OVN's bridge, untagged, bound by iface-id, installed by ovn-controller.
      expect(ports(OVN_BRIDGE)).toContain(r.portName);
      expect(ports('br-int')).not.toContain(r.portName);
      expect(v.vsctl('get', 'Port', r.portName, 'tag').trim()).toBe('[]');
      expect(ifaceId(r.portName, 'iface-id')).toBe(lsp(i));
      expect(ifaceId(r.portName, 'ovn-installed')).toBe('true');
      portOf.set(i, r.portName);
      expect(boundChassis(lsp(i))).toBe(v.vhost.name);
    }
    // The data path OVN programmed: one VM reaches the other (retries cover a first-packet drop).
    execFileSync('ip', ['netns', 'exec', spec(0).name, 'ping', '-c', '5', '-i', '0.2', '-w', '10', '-q', ip(1)], { encoding: 'utf8' });
  });

  it('answers a resend of an installed VM ready, without making it again', async () => {
    const [r] = await apply([create(spec(0), true)]);
    expect(r!.error?.message ?? '').toBe('');
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(r!.steps.map((s) => s.step)).not.toContain('namespace');
  });

  it('fails a VM whose logical port does not exist at step installed, and leaves nothing behind', async () => {
    const s = spec(9, { ovn: { timeoutMs: 1500 } });
    const [r] = await apply([create(s)]);
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_FAILED);
    expect(r!.error).toMatchObject({ code: 'TIMEOUT', step: 'installed' });
    expect(r!.error!.message).toMatch(new RegExp(`ovn-installed within 1500 ms.*logical switch port ${lsp(9)}`));
    expect(r!.steps.map((s) => s.step)).toContain('undo:attach');
    expect(vmNamespaces()).not.toContain(s.name);
    expect(ports(OVN_BRIDGE)).not.toContain(r!.portName);
    expect(vh().ipVhost('-j', 'link', 'show')).not.toContain(r!.portName);
  });

  it('deletes an OVN VM: its port leaves OVS, its namespace goes, ovn-controller releases the binding', async () => {
    const s = spec(0);
    const before = ports(OVN_BRIDGE);
    const [r] = await apply([del(s)]);
    expect(r!.error?.message ?? '').toBe('');
    expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
    expect(before).toContain(r!.portName);
    expect(ports(OVN_BRIDGE)).not.toContain(r!.portName);
    expect(vmNamespaces()).not.toContain(s.name);
    await waitFor(() => boundChassis(lsp(0)) === '', 10_000, `${lsp(0)} unbound`);
    // The other VM is untouched and still installed.
    expect(ifaceId(portOf.get(1)!, 'ovn-installed')).toBe('true');
    expect(boundChassis(lsp(1))).toBe(vh().vhost.name);
  });

  it('counts installed and timed-out OVN ports and the installed wait in its metrics', async () => {
    const text = await metrics();
    expect(text).toMatch(/merak_agent_ovn_ports_total\{[^}]*outcome="installed"[^}]*\} 2/);
    expect(text).toMatch(/merak_agent_ovn_ports_total\{[^}]*outcome="timeout"[^}]*\} 1/);
    expect(text).toMatch(/merak_agent_ovn_installed_seconds_count\{[^}]*\} 2/);
  });
});
