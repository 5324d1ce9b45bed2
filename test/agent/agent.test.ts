// The agent end to end: a real private OVS (userspace datapath) in its own namespace, the agent
// as a child process, gRPC over a unix socket; every effect checked with independent tools.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../lab/agent-client/agent-client.js';
import { type TestVhost, namespacesWithPrefix, startTestVhost } from '../fixtures/local-vhost.js';

let t: TestVhost;
beforeAll(async () => {
  t = await startTestVhost('ag');
}, 120_000);
afterAll(async () => {
  await t?.cleanup();
}, 120_000);

const mac = (i: number): string => `02:aa:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
function spec(i: number, over: Partial<agentV1.VmSpec> = {}): agentV1.VmSpec {
  return agentV1.VmSpec.fromPartial({
    id: `${t.prefix}-id${i}`, name: `${t.prefix}-vm${i}`, ip: `10.9.${i >> 8}.${(i & 255) + 2}`,
    prefixLength: 16, gateway: '10.9.0.1', mac: mac(i), ...over,
  });
}
const create = (s: agentV1.VmSpec): agentV1.VmOperation => ({ op: { $case: 'create', value: s }, startOffsetMs: 0 });
const del = (s: { id: string; name: string }): agentV1.VmOperation => ({ op: { $case: 'delete', value: { id: s.id, name: s.name } }, startOffsetMs: 0 });
const apply = (operations: agentV1.VmOperation[]): Promise<agentV1.VmResult[]> => t.vhost.client.applyAll({ operations, concurrency: 16, startAtUnixMs: 0 });

function json<T>(text: string): T {
  return JSON.parse(text) as T;
}
function linkInVm(vm: string): { ifname: string; address: string; mtu: number; operstate: string; addr_info: { family: string; local: string; prefixlen: number }[] } {
  const links = json<ReturnType<typeof linkInVm>[]>(execFileSync('ip', ['-n', vm, '-j', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }));
  return links[0]!;
}
function ovsPorts(): string[] {
  return t.vsctl('list-ports', 'br-int').split('\n').filter(Boolean);
}

describe('agent', () => {
  const vms = Array.from({ length: 50 }, (_, i) => i);

  it('creates 50 VMs in one batch, as ip and ovs-vsctl see them', async () => {
    const results = await apply(vms.map((i) => create(spec(i))));
    expect(results).toHaveLength(50);
    for (const r of results) {
      expect(r.error?.message ?? '').toBe('');
      expect(r.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
      expect(r.ofport).toBeGreaterThan(0);
      expect(r.steps.map((s) => s.step)).toEqual(['namespace', 'port', 'attach', 'configure', 'ready']);
    }
    const names = namespacesWithPrefix(t.prefix);
    for (const i of vms) {
      const s = spec(i);
      expect(names).toContain(s.name);
      const eth0 = linkInVm(s.name);
      expect(eth0.address).toBe(s.mac);
      expect(eth0.mtu).toBe(1500);
      expect(eth0.addr_info.filter((a) => a.family === 'inet')).toEqual([expect.objectContaining({ local: s.ip, prefixlen: 16 })]);
      expect(eth0.addr_info.some((a) => a.family === 'inet6')).toBe(false);
      const routes = json<{ dst: string; gateway?: string }[]>(execFileSync('ip', ['-n', s.name, '-j', 'route'], { encoding: 'utf8' }));
      expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.9.0.1' }));
      // No IPv6 address will ever be made on eth0 (so it sends no DAD, RS or MLD); MTU probing as Merak's VM.
      expect(json<Array<{ inet6_addr_gen_mode?: string }>>(execFileSync('ip', ['-n', s.name, '-d', '-j', 'link', 'show', 'dev', 'eth0'], { encoding: 'utf8' }))[0]!.inet6_addr_gen_mode).toBe('none');
      expect(execFileSync('ip', ['netns', 'exec', s.name, 'sysctl', '-n', 'net.ipv4.tcp_mtu_probing'], { encoding: 'utf8' }).trim()).toBe('2');
      expect(execFileSync('ip', ['netns', 'exec', s.name, 'ethtool', '-k', 'eth0'], { encoding: 'utf8' })).toMatch(/tx-checksumming: off/);
      expect(json<Array<{ flags: string[] }>>(execFileSync('ip', ['-n', s.name, '-j', 'link', 'show', 'lo'], { encoding: 'utf8' }))[0]!.flags).toContain('UP');
    }
    const ports = ovsPorts();
    for (const r of results) {
      expect(ports).toContain(r.portName);
      // The outer end in the vhost: up, no IPv6 address generation, marked as this vhost's VM.
      const [outer] = json<Array<{ flags: string[]; ifalias?: string; inet6_addr_gen_mode?: string }>>(t.ipVhost('-d', '-j', 'link', 'show', r.portName));
      expect(outer!.flags).toContain('UP');
      expect(outer!.inet6_addr_gen_mode).toBe('none');
      expect(outer!.ifalias).toBe(`merak vhost=${t.vhost.name} vm=${r.id} ns=${r.name}`);
    }
    const first = results.find((r) => r.id === spec(0).id)!;
    const ids = t.vsctl('get', 'Interface', first.portName, 'external_ids');
    expect(ids).toContain(`vm-id=${spec(0).id}`);
    expect(ids).toContain(`vm-name=${spec(0).name}`);
    expect(ids).toContain(`merak-vhost=${t.vhost.name}`);
  });

  it('pings between two VMs through OVS, from inside the VMs', async () => {
    const res = await t.vhost.client.ping({ sources: [{ vm: spec(0).name, targets: [spec(1).ip, spec(2).ip] }], count: 3, intervalMs: 50, timeoutMs: 2000, convergeMs: 0 });
    expect(res.results).toHaveLength(2);
    for (const r of res.results) {
      expect(r.error).toBe('');
      expect(r.received).toBe(3);
      expect(r.rttAvgMs).toBeGreaterThan(0);
    }
    // A target nobody has: all lost, not an error.
    const lost = await t.vhost.client.ping({ sources: [{ vm: spec(0).name, targets: ['10.9.200.200'] }], count: 2, intervalMs: 50, timeoutMs: 300, convergeMs: 0 });
    expect(lost.results[0]).toMatchObject({ sent: 2, received: 0 });
    // The same path is usable by users' own tools.
    expect(() => execFileSync('ip', ['netns', 'exec', spec(3).name, 'ping', '-c', '1', '-W', '2', spec(4).ip])).not.toThrow();
  });

  it('converges: a target that starts answering mid-deadline passes with its time to first reply; one that never does fails after the deadline', async () => {
    // spec(2) loses its address, so nothing answers for it until it is given back.
    const target = spec(2);
    execFileSync('ip', ['-n', target.name, 'addr', 'del', `${target.ip}/${target.prefixLength}`, 'dev', 'eth0']);
    const back = setTimeout(() => execFileSync('ip', ['-n', target.name, 'addr', 'add', `${target.ip}/${target.prefixLength}`, 'dev', 'eth0']), 700);
    const started = Date.now();
    let res: agentV1.PingResponse;
    try {
      res = await t.vhost.client.ping({ sources: [{ vm: spec(0).name, targets: [target.ip, '10.9.200.201'] }], count: 3, intervalMs: 50, timeoutMs: 1000, convergeMs: 2500 });
    } finally {
      clearTimeout(back);
      execFileSync('ip', ['-n', target.name, 'addr', 'replace', `${target.ip}/${target.prefixLength}`, 'dev', 'eth0']);
    }
    const [late, dead] = [res.results.find((r) => r.target === target.ip)!, res.results.find((r) => r.target === '10.9.200.201')!];
    // Answered once its address was back: the wait counts in the first reply, the steady RTT does not carry it.
    expect(late.error).toBe('');
    expect(late.received).toBeGreaterThanOrEqual(3);
    expect(late.sent).toBeGreaterThan(late.received);
    expect(late.firstReplyMs).toBeGreaterThanOrEqual(600);
    expect(late.rttAvgMs).toBeLessThan(late.firstReplyMs);
    // Never answered: failed once the deadline passed, after a few backed-off echoes, not 50.
    expect(dead).toMatchObject({ received: 0, firstReplyMs: 0 });
    expect(dead.sent).toBeGreaterThanOrEqual(3);
    expect(dead.sent).toBeLessThanOrEqual(8);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
  });

  it('adds the extra routes a VM asks for (on-link and via a neighbour), and knows them again', async () => {
    const s = spec(60, { routes: [{ destination: '10.0.0.0/8', via: '' }, { destination: '172.16.0.0/12', via: '10.9.0.254' }] });
    const [r] = await apply([create(s)]);
    expect(r).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_READY });
    const routes = json<{ dst: string; gateway?: string; dev: string; scope?: string }[]>(execFileSync('ip', ['-n', s.name, '-j', 'route'], { encoding: 'utf8' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.0.0.0/8', dev: 'eth0', scope: 'link' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: '172.16.0.0/12', gateway: '10.9.0.254', dev: 'eth0' }));
    // The routes are part of the spec the agent recorded: the same spec is the same VM, other routes are not.
    expect((await apply([create(s)]))[0]).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_READY, steps: [] });
    const other = await apply([create({ ...s, routes: [{ destination: '10.0.0.0/8', via: '' }] })]);
    expect(other[0]!.error?.code).toBe('CONFLICT');
    expect((await apply([del(s)]))[0]!.status).toBe(agentV1.VmStatus.VM_STATUS_DELETED);
  });

  it('returns an existing VM for the same spec, and refuses a different one', async () => {
    const again = await apply([create(spec(0))]);
    expect(again[0]).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_READY, steps: [] });
    const changed = await apply([create(spec(0, { ip: '10.9.0.250' }))]);
    expect(changed[0]!.status).toBe(agentV1.VmStatus.VM_STATUS_FAILED);
    expect(changed[0]!.error?.code).toBe('CONFLICT');
    expect(linkInVm(spec(0).name).addr_info.find((a) => a.family === 'inet')?.local).toBe(spec(0).ip);
  });

  it('rejects each bad input with INVALID_ARGUMENT naming the field, creating nothing', async () => {
    const before = { ns: namespacesWithPrefix(t.prefix).length, ports: ovsPorts().length };
    const bad: Array<[Partial<agentV1.VmSpec>, string]> = [
      [{ name: 'a b' }, 'operations[1].create.name'],
      [{ ip: '10.9.1.300' }, 'operations[1].create.ip'],
      [{ mac: 'zz:00:00:00:00:01' }, 'operations[1].create.mac'],
      [{ prefixLength: 33 }, 'operations[1].create.prefix_length'],
      [{ gateway: '192.168.1.1' }, 'operations[1].create.gateway'],
    ];
    for (const [over, field] of bad) {
      // A valid VM first: the whole batch must be refused, the good one included.
      const err = await apply([create(spec(100)), create(spec(101, over))]).catch((e: ServiceError) => e);
      expect((err as ServiceError).code).toBe(status.INVALID_ARGUMENT);
      expect((err as ServiceError).details).toContain(field);
    }
    const dup = await apply([create(spec(100)), create(spec(101, { name: spec(100).name }))]).catch((e: ServiceError) => e);
    expect((dup as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((dup as ServiceError).details).toContain('operations[1].create.name');
    expect(namespacesWithPrefix(t.prefix).length).toBe(before.ns);
    expect(ovsPorts().length).toBe(before.ports);
  });

  it('rolls back a VM that fails half-way and leaves the rest of the batch alone', async () => {
    // A port name already taken on the bridge (by a port whose device does not exist): the veth is
    // made, then OVSDB refuses a second port of that name.
    t.vsctl('--no-wait', 'add-port', 'br-int', `${t.prefix}x`);
    // A port name already taken by a link in the vhost: the veth itself fails.
    t.ipVhost('link', 'add', `${t.prefix}y`, 'type', 'veth', 'peer', 'name', `${t.prefix}z`);
    const results = await apply([
      create(spec(60)),
      create(spec(61, { portName: `${t.prefix}x` })),
      create(spec(62, { portName: `${t.prefix}y` })),
      create(spec(63)),
      // The VM's own subnet as an extra on-link route: the kernel already has it (EEXIST), so
      // configure fails after the port was attached.
      create(spec(64, { routes: [{ destination: '10.9.0.0/16', via: '' }] })),
    ]);
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get(spec(60).id)!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    expect(byId.get(spec(63).id)!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    const attachFail = byId.get(spec(61).id)!;
    // The port is queued at attach and the transaction's refusal arrives at ready, reported as
    // attach's (where it was asked for); the other port of that name is not this VM's, so the undo
    // leaves it alone (checked below).
    expect(attachFail).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'OVSDB', step: 'attach' } });
    expect(attachFail.error!.message).toMatch(new RegExp(`constraint violation.*\\(${t.prefix}x\\)`));
    expect(attachFail.steps.map((s) => s.step)).toEqual(['namespace', 'port', 'attach', 'configure', 'ready', 'undo:attach', 'undo:port', 'undo:namespace']);
    const portFail = byId.get(spec(62).id)!;
    expect(portFail).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'NETLINK', step: 'port' } });
    expect(portFail.error!.message).toMatch(/EEXIST/);
    const configureFail = byId.get(spec(64).id)!;
    expect(configureFail).toMatchObject({ status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'NETLINK', step: 'configure' } });
    expect(configureFail.error!.message).toMatch(/EEXIST/);
    expect(configureFail.steps.map((s) => s.step)).toEqual(['namespace', 'port', 'attach', 'configure', 'undo:attach', 'undo:port', 'undo:namespace']);
    expect(ovsPorts()).not.toContain(configureFail.portName);
    expect(t.ipVhost('-j', 'link', 'show')).not.toContain(`"${configureFail.portName}"`);
    for (const i of [61, 62, 64]) expect(existsSync(`/run/netns/${spec(i).name}`)).toBe(false);
    // The pre-existing objects are untouched; nothing of the failed VMs is left.
    expect(t.vsctl('list-ports', 'br-int')).toContain(`${t.prefix}x`);
    expect(t.vsctl('get', 'Interface', `${t.prefix}x`, 'external_ids').trim()).toBe('{}');
    expect(t.ipVhost('-j', 'link', 'show', `${t.prefix}y`)).toContain(`${t.prefix}y`);
    t.vsctl('del-port', 'br-int', `${t.prefix}x`);
    t.ipVhost('link', 'del', `${t.prefix}y`);
  });

  it('lists exactly the VMs that exist after a SIGKILL and restart, and deletes them', async () => {
    const expected = new Set([...vms, 60, 63].map((i) => spec(i).id));
    await t.vhost.agent.kill();
    await t.vhost.restartAgent();
    const { vms: listed } = await t.vhost.client.listVms();
    expect(new Set(listed.map((v) => v.id))).toEqual(expected);
    for (const v of listed) expect(v).toMatchObject({ complete: true, namespacePresent: true, portPresent: true });
    const v0 = listed.find((v) => v.id === spec(0).id)!;
    expect(v0).toMatchObject({ ip: spec(0).ip, prefixLength: 16, mac: spec(0).mac, gateway: '10.9.0.1' });

    const results = await apply([...listed.map((v) => del(v)), del({ id: `${t.prefix}-never`, name: `${t.prefix}-never` })]);
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === agentV1.VmStatus.VM_STATUS_DELETED)).toHaveLength(expected.size);
    expect(statuses.filter((s) => s === agentV1.VmStatus.VM_STATUS_ABSENT)).toHaveLength(1);
    // Nothing is left: no namespace, no link in the vhost besides lo and OVS's own, no OVS port.
    expect(namespacesWithPrefix(`${t.prefix}-vm`)).toEqual([]);
    expect(ovsPorts()).toEqual([]);
    const links = json<{ ifname: string }[]>(t.ipVhost('-j', 'link')).map((l) => l.ifname).sort();
    expect(links).toEqual(['br-int', 'lo', 'ovs-netdev']);
    expect((await t.vhost.client.listVms()).vms).toEqual([]);
  });

  it('refuses calls without the token, and serves health, readiness, metrics and info', async () => {
    const anonymous = new agentV1.AgentClient(t.vhost.grpcAddress, credentials.createInsecure());
    const err = await new Promise<ServiceError | null>((resolve) => anonymous.listVms({}, new Metadata(), (e) => resolve(e)));
    anonymous.close();
    expect(err?.code).toBe(status.UNAUTHENTICATED);
    const wrong = new AgentClient(t.vhost.grpcAddress, { token: 'not-the-token' });
    await expect(wrong.info()).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    wrong.close();

    const info = await t.vhost.client.info();
    expect(info).toMatchObject({ vhost: t.vhost.name, datapathType: 'netdev', bridge: 'br-int', hollow: false });
    expect(info.ovsVersion).toMatch(/^\d+\.\d+/);

    const get = (path: string): Promise<{ code: number; body: string }> =>
      new Promise((resolve, reject) => {
        request({ socketPath: t.vhost.httpSocket, path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
        }).on('error', reject).end();
      });
    expect((await get('/healthz')).code).toBe(200);
    const ready = await get('/readyz');
    expect(ready.code).toBe(200);
    expect(ready.body).toMatch(/ovsdb: ok/);
    expect(ready.body).toMatch(/netlink: ok/);
    const metrics = (await get('/metrics')).body;
    expect(metrics).toMatch(/merak_agent_step_duration_seconds_bucket\{[^}]*step="namespace"/);
    expect(metrics).toMatch(/merak_agent_vms_present\{[^}]*\} 0/);
  });

  it('builds a VM on an OVS internal port moved into the namespace, and deletes it', async () => {
    const internal = [70, 71].map((i) => spec(i, { portKind: agentV1.PortKind.PORT_KIND_INTERNAL }));
    const results = await apply(internal.map(create));
    for (const r of results) {
      expect(r.error?.message ?? '').toBe('');
      expect(r.steps.map((s) => s.step)).toEqual(['namespace', 'attach', 'move', 'configure']);
    }
    for (const s of internal) {
      const eth0 = linkInVm(s.name);
      expect(eth0.address).toBe(s.mac);
      expect(eth0.addr_info.find((a) => a.family === 'inet')?.local).toBe(s.ip);
    }
    const port = results[0]!.portName;
    expect(t.vsctl('get', 'Interface', port, 'type').trim()).toBe('internal');
    const res = await t.vhost.client.ping({ sources: [{ vm: internal[0]!.name, targets: [internal[1]!.ip] }], count: 3, intervalMs: 50, timeoutMs: 2000, convergeMs: 0 });
    expect(res.results[0]).toMatchObject({ sent: 3, received: 3, error: '' });
    const { vms } = await t.vhost.client.listVms();
    expect(vms.map((v) => [v.id, v.portKind, v.complete])).toEqual(expect.arrayContaining(internal.map((s) => [s.id, agentV1.PortKind.PORT_KIND_INTERNAL, true])));
    const deleted = await apply(internal.map(del));
    expect(deleted.every((r) => r.status === agentV1.VmStatus.VM_STATUS_DELETED)).toBe(true);
    expect(namespacesWithPrefix(`${t.prefix}-vm`)).toEqual([]);
    expect(ovsPorts()).toEqual([]);
  });
});
