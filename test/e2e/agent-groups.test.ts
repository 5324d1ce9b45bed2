// Several vhosts per agent process (`local up --agents-per-process`), with real processes: each
// vhost is still its own host (registered under its name, its VMs in its namespace on its OVS, its
// GoalState listener inside its namespace), the ping test passes across vhosts of one process and
// of two, a killed group process is started again by the supervisor for all its members, and
// `local down` leaves nothing.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { localDown } from '../../lab/cli/local.js';
import { readState } from '../../lab/local/emulation-state.js';
import { isRunning } from '../../lab/local/process-record.js';
import { vmsFromOvsdb } from '../../lab/local/recorded-vms.js';
import { httpGet, linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot } from '../fixtures/local-emulation.js';
import { useLocalEmulation } from '../fixtures/local-up.js';

requireRoot();
const emu = useLocalEmulation({ letter: 'g', dirName: 'merak-groups-', agentsPerProcess: 2 });
const { prefix, local } = emu;

const agentPids = (): number[] => readState(join(local, 'emulation'))!.vhosts.map((v) => v.processes.agent?.pid ?? 0);

async function runToEnd(text: string): Promise<coordinatorV1.Scenario> {
  const created = await emu.client.createScenario(text, 'yaml');
  await emu.client.watch(created.id, () => undefined);
  return emu.client.getScenario(created.id);
}

describe('agents sharing a process', () => {
  it('runs two agent processes for three vhosts, in the root namespace, each vhost registered as its own host', async () => {
    const [a, b, c] = agentPids();
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(readlinkSync(`/proc/${a}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
    const { agents } = await emu.client.listAgents();
    expect(agents.map((x) => x.info?.name).sort()).toEqual(emu.up.emulation.vhosts.map((v) => v.name).sort());
    for (const v of emu.up.emulation.vhosts) {
      const ready = await httpGet(v.httpSocket, '/readyz');
      expect(ready.code, `${v.name} /readyz: ${ready.body}`).toBe(200);
      expect((await httpGet(v.httpSocket, '/metrics')).body).toContain(`vhost="${v.name}"`);
    }
  });

  it('serves each vhost\'s GoalState inside its own namespace: reachable on its underlay address from another vhost, not listening here', async () => {
    const [v0, v1] = emu.up.emulation.vhosts;
    // From inside vhost 0, vhost 1's listener on its underlay address answers (a TCP connect).
    execFileSync('ip', ['netns', 'exec', v0!.name, 'bash', '-c', `exec 3<>/dev/tcp/${v1!.underlayIp}/50001`]);
    const here = execFileSync('ss', ['-Hltnp', 'sport = :50001'], { encoding: 'utf8' });
    for (const pid of new Set(agentPids())) expect(here).not.toContain(`pid=${pid},`);
  });

  it('makes each vhost\'s VMs in its namespace on its OVS, and they ping across vhosts of one process and of two', async () => {
    const name = `${prefix}-p`;
    const s = await runToEnd(`
name: ${name}
hosts: { count: 3 }
vpcs: [{ name: vpc1, cidr: 10.5.0.0/16, subnets: [{ name: s, cidr: 10.5.0.0/16, vms: 9 }] }]
test: { type: ping }
`);
    expect(s.phase, s.error).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(s.vms?.ready).toBe(9);
    const report = JSON.parse((await emu.client.getReport(s.id)).json) as { ping: { pairsPassed: number; pairsFailed: number; crossHostPairs: number } };
    expect(report.ping.pairsFailed).toBe(0);
    expect(report.ping.pairsPassed).toBe(9 * 8);
    expect(report.ping.crossHostPairs).toBeGreaterThan(0);
    expect(namespacesWithPrefix(`${name}-`)).toHaveLength(9);
    // Each vhost's OVS records its own VMs' ports, nine in all.
    const perVhost = await Promise.all(emu.up.emulation.vhosts.map(async (v) => (await vmsFromOvsdb(v.dbSocket, v.name)).filter((n) => n.startsWith(`${name}-`)).length));
    expect(perVhost.reduce((a, b) => a + b, 0)).toBe(9);
    expect(perVhost.every((n) => n > 0)).toBe(true);
  });

  it('a killed group process is started again by the supervisor, for all its members', async () => {
    const before = agentPids();
    await emu.up.emulation.vhosts[0]!.killAgent();
    await emu.up.emulation.vhosts[0]!.restartAgent();
    const after = agentPids();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).toBe(after[0]);
    expect(after[2]).toBe(before[2]);
    expect(isRunning(readState(join(local, 'emulation'))!.vhosts[1]!.processes.agent!)).toBe(true);
    // Both members answer again, with the VMs they had.
    for (const v of emu.up.emulation.vhosts.slice(0, 2)) {
      await v.client.connect(30_000);
      expect((await v.client.listVms()).vms.length, v.name).toBe(3);
    }
  });

  it('local down leaves nothing: namespaces, links, processes', async () => {
    emu.client.close();
    const report = await localDown(local, () => undefined);
    expect(report.failed).toEqual([]);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(local)).toEqual([]);
  });
});
