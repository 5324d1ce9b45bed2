// Teardown of a local emulation: stop() from the launching process, and teardownLocalEmulation
// from another process after the launcher was SIGKILLed (with one ovsdb-server dead too, so the
// VMs are found in its database file). Afterwards nothing of the prefix may exist, and none of a
// vhost's OVS devices (br-tun, its patch port, the bridges' taps) may have landed in the root namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentV1 } from '@merak/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmulationState, readState, startLocalEmulation, teardownLocalEmulation } from '../../lab/index.js';
import { isRunning } from '../../lab/local/process-record.js';
import { httpGet, ipJson, linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix, vsctl } from '../fixtures/local-emulation.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
}, 120_000);

function fresh(tag: string): { prefix: string; work: string; stateDir: string } {
  requireRoot();
  const prefix = uniquePrefix(tag);
  const work = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const stateDir = join(work, 'emulation');
  cleanups.push(async () => {
    await sweepEmulation(stateDir, prefix);
    rmSync(work, { recursive: true, force: true });
  });
  return { prefix, work, stateDir };
}

/** Root-namespace links named as a vhost's OVS devices are: a vhost's bridge taps must die with its namespace, not land here. */
const OVS_DEVICES = new Set(['br-int', 'br-tun', 'br-phy', 'patch-tun', 'patch-int', 'ovs-netdev']);
const rootOvsLinks = (): string[] => ipJson<Array<{ ifname: string }>>(undefined, 'link', 'show').map((l) => l.ifname).filter((n) => OVS_DEVICES.has(n)).sort();

/** Nothing of the emulation is left: namespaces, root links, recorded or unrecorded processes, the folder. */
function expectNothingLeft(prefix: string, stateDir: string, state: EmulationState, rootLinksBefore: readonly string[]): void {
  expect(namespacesWithPrefix(prefix)).toEqual([]);
  expect(linksWithPrefix(prefix)).toEqual([]);
  expect(rootOvsLinks()).toEqual(rootLinksBefore);
  for (const v of state.vhosts) for (const [kind, p] of Object.entries(v.processes)) expect(isRunning(p), `${v.name} ${kind}`).toBe(false);
  expect(processesMentioning(stateDir)).toEqual([]);
  expect(existsSync(stateDir)).toBe(false);
}

const vmSpec = (prefix: string, i: number, over: Partial<agentV1.VmSpec> = {}): agentV1.VmSpec =>
  agentV1.VmSpec.fromPartial({ id: `${prefix}-vm${i}`, name: `${prefix}-vm${i}`, ip: `10.1.0.${i + 1}`, prefixLength: 16, mac: `02:00:00:00:01:0${i}`, mtu: 1450, vni: 1001, ...over });

describe('local emulation teardown', () => {
  it('refuses bad options before creating anything', async () => {
    const { prefix, stateDir } = fresh('tb');
    // A range this machine routes already (whichever its first connected route is) is refused.
    const used = ipJson<Array<{ dst: string; dev: string }>>(undefined, 'route', 'show').find((r) => r.dst.includes('/'));
    if (!used) throw new Error('the root namespace has no connected route to test an overlap with');
    await expect(startLocalEmulation({ prefix, hosts: 1, stateDir, underlayCidr: used.dst })).rejects.toThrow(`underlayCidr: ${used.dst} overlaps the root namespace's route ${used.dst} dev ${used.dev}`);
    await expect(startLocalEmulation({ prefix, hosts: 1, stateDir, underlayCidr: '10.0.0.1/8' })).rejects.toThrow(/underlayCidr: '10\.0\.0\.1\/8' is not an IPv4 network/);
    await expect(startLocalEmulation({ prefix: 'Bad-Prefix', hosts: 1, stateDir })).rejects.toThrow(/prefix: 'Bad-Prefix' must be/);
    await expect(startLocalEmulation({ prefix: 'averyverylongprefix', hosts: 1, stateDir })).rejects.toThrow(/exceeds 15 bytes/);
    // The default underlay (a free TEST-NET /24) holds 254 vhosts.
    await expect(startLocalEmulation({ prefix, hosts: 300, stateDir })).rejects.toThrow(/has room for 254 vhosts, not 255/);
    expect(existsSync(stateDir)).toBe(false);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
  });

  it('says why a start failed and leaves nothing (an agent refuses a --underlay-ip that disagrees)', async () => {
    const { prefix, stateDir } = fresh('tf');
    await expect(startLocalEmulation({ prefix, hosts: 2, stateDir, agentArgs: ['--underlay-ip', '198.51.100.99'] }))
      .rejects.toThrow(/--underlay-ip: 198\.51\.100\.99 disagrees with the underlay: eth0 has (198\.51\.100|203\.0\.113|192\.0\.2)\.[12]\/24/);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(stateDir)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
  }, 60_000);

  it('stop() removes every namespace, link, bridge and process, VMs included', async () => {
    const { prefix, stateDir } = fresh('ts');
    const rootLinks = rootOvsLinks();
    // The default underlay: a TEST-NET range no route of this machine (or of another test's emulation) overlaps.
    const em = await startLocalEmulation({ prefix, hosts: 2, stateDir });
    const net = em.underlayCidr.split('/')[0]!.split('.').slice(0, 3).join('.');
    expect(em.vhosts.map((v) => v.underlayIp)).toEqual([`${net}.1`, `${net}.2`]);
    // VMs of both port kinds, and tunnels.
    const specs = [vmSpec(prefix, 0), vmSpec(prefix, 1, { portKind: agentV1.PortKind.PORT_KIND_INTERNAL })];
    for (const [i, s] of specs.entries()) {
      const [r] = await em.vhosts[i]!.client.applyAll({ operations: [{ op: { $case: 'create', value: s }, startOffsetMs: 0 }], concurrency: 0, startAtUnixMs: 0 });
      expect(r!.status).toBe(agentV1.VmStatus.VM_STATUS_READY);
    }
    for (const [i, v] of em.vhosts.entries()) {
      expect(await v.client.setTunnels({ tunnels: [{ remoteIp: em.vhosts[1 - i]!.underlayIp, vni: 1001, remoteMac: '' }], type: 0, flood: false })).toMatchObject({ added: 1 });
      // And a neighbor table, so br-tun holds flows as well as the tunnel port and its patch port.
      const other = specs[1 - i]!;
      expect(await v.client.updateNeighbors({ upsert: [{ vni: 1001, ip: other.ip, mac: other.mac, hostIp: em.vhosts[1 - i]!.underlayIp }], remove: [], replace: false }))
        .toMatchObject({ neighbors: 1, flowsAdded: 2 });
      expect(vsctl(v.dbSocket, 'list-ports', 'br-tun').trim().split('\n')).toEqual(['patch-int', expect.stringMatching(/^v[0-9a-f]{14}$/)]);
      expect(vsctl(v.dbSocket, 'port-to-br', 'patch-tun').trim()).toBe('br-int');
      expect(ipJson<Array<{ ifname: string }>>(v.name, 'link', 'show', 'dev', 'br-tun').map((l) => l.ifname)).toEqual(['br-tun']);
    }
    const state = readState(stateDir)!;
    expect(namespacesWithPrefix(prefix).sort()).toEqual([...specs.map((s) => s.name), ...em.vhosts.map((v) => v.name)].sort());
    expect(linksWithPrefix(prefix).sort()).toEqual([em.bridge, `${prefix}-u0`, `${prefix}-u1`]);

    const report = await em.stop();
    expect(report.failed).toEqual([]);
    expect(report.removed).toEqual(expect.arrayContaining([
      `1 VM namespace of ${prefix}-vhost-0`, `1 VM namespace of ${prefix}-vhost-1`, `namespace ${prefix}-vhost-0`, `namespace ${prefix}-vhost-1`,
      `bridge ${prefix}-br`, `folder ${stateDir}`,
    ]));
    expect(report.removed.filter((r) => /^(agent|ovs-vswitchd|ovsdb-server) of /.test(r))).toHaveLength(6);
    expectNothingLeft(prefix, stateDir, state, rootLinks);
  }, 120_000);

  it('teardownLocalEmulation removes everything after the launcher was SIGKILLed', async () => {
    const { prefix, stateDir } = fresh('tk');
    const rootLinks = rootOvsLinks();
    const labDist = fileURLToPath(new URL('../../lab/dist/index.js', import.meta.url));
    const protoDist = fileURLToPath(new URL('../../proto/dist/index.js', import.meta.url));
    // The launcher in a child process: an emulation of 2 vhosts with a VM on each, then it waits.
    const script = `
      const [lab, proto, prefix, stateDir] = process.argv.slice(1);
      const { startLocalEmulation } = await import(lab);
      const { agentV1 } = await import(proto);
      const em = await startLocalEmulation({ prefix, hosts: 2, stateDir });
      for (const [i, v] of em.vhosts.entries()) {
        const spec = agentV1.VmSpec.fromPartial({ id: prefix + '-vm' + i, name: prefix + '-vm' + i, ip: '10.1.0.' + (i + 1), prefixLength: 16, mac: '02:00:00:00:02:0' + i, mtu: 1450, vni: 1001 });
        const [r] = await v.client.applyAll({ operations: [{ op: { $case: 'create', value: spec }, startOffsetMs: 0 }], concurrency: 0, startAtUnixMs: 0 });
        if (r.status !== agentV1.VmStatus.VM_STATUS_READY) throw new Error(JSON.stringify(r.error));
      }
      console.log('READY');
      setInterval(() => {}, 1000);`;
    const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script, labDist, protoDist, prefix, stateDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    cleanups.unshift(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`launcher exited (${code}) before it was ready`)));
    });
    const state = readState(stateDir)!;
    expect(namespacesWithPrefix(prefix)).toHaveLength(4);
    // The root namespace has no route into the underlay.
    expect(JSON.stringify(ipJson(undefined, 'route', 'show', 'table', 'all'))).not.toContain(state.underlayCidr.split('.').slice(0, 3).join('.'));
    child.kill('SIGKILL');
    await exited;
    // The emulation outlives its launcher: agents still answer, VMs are there.
    const survivors = state.vhosts.flatMap((v) => Object.values(v.processes));
    expect(survivors.filter((p) => isRunning(p))).toHaveLength(6);
    // And vhost-0's ovsdb-server dies too: its VMs must be read from the database file.
    const server = state.vhosts[0]!.processes.ovsdbServer!;
    process.kill(server.pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (isRunning(server) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(isRunning(server)).toBe(false);

    // vhost-1's vswitchd dies: its agent stops being ready, for its underlay (br-phy loses carrier).
    const vswitchd = state.vhosts[1]!.processes.vswitchd!;
    process.kill(vswitchd.pid, 'SIGKILL');
    let ready = await httpGet(state.vhosts[1]!.httpSocket, '/readyz');
    for (const until = Date.now() + 5000; ready.code === 200 && Date.now() < until; ready = await httpGet(state.vhosts[1]!.httpSocket, '/readyz')) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready).toMatchObject({ code: 503, body: expect.stringContaining('underlay: FAIL br-phy has no carrier (is ovs-vswitchd running?)') });

    const report = await teardownLocalEmulation(stateDir);
    expect(report.failed).toEqual([]);
    expect(report.removed).toEqual(expect.arrayContaining([`1 VM namespace of ${prefix}-vhost-0`, `1 VM namespace of ${prefix}-vhost-1`, `bridge ${prefix}-br`]));
    expect(report.removed.filter((r) => r.startsWith(`ovsdb-server of ${prefix}-vhost-0`) || r.startsWith(`ovs-vswitchd of ${prefix}-vhost-1`))).toEqual([]);
    expectNothingLeft(prefix, stateDir, state, rootLinks);
    // A second teardown finds nothing to do.
    expect(await teardownLocalEmulation(stateDir)).toEqual({ removed: [], failed: [] });
  }, 120_000);
});
