// A scenario's faults on the local emulation, with real processes: each vhost fault is done by the
// target's agent (InjectFault) and healed as it would be (the supervisor starts a killed agent or
// ovs-vswitchd again; an isolated underlay comes back up), the run completes, and the report says
// per fault what it hit, when, and what it did to the VMs.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { readState } from '../../lab/local/emulation-state.js';
import type { Report } from '../../coordinator/report/report.js';
import { requireRoot } from '../fixtures/local-emulation.js';
import { useLocalEmulation } from '../fixtures/local-up.js';

requireRoot();
const emu = useLocalEmulation({ letter: 'f', dirName: 'merak-faults-' });
const { prefix, local } = emu;

const vhost = (i: number): string => emu.up.emulation.vhosts[i]!.name;
const processesOf = (i: number) => readState(join(local, 'emulation'))!.vhosts[i]!.processes;

async function runToEnd(text: string): Promise<{ scenario: coordinatorV1.Scenario; report: Report }> {
  const created = await emu.client.createScenario(text, 'yaml');
  await emu.client.watch(created.id, () => undefined);
  const scenario = await emu.client.getScenario(created.id);
  const report = JSON.parse((await emu.client.getReport(created.id)).json) as Report;
  return { scenario, report };
}

/** A small scenario on the 3 vhosts: VMs placed evenly, created over ~`seconds`, the fault given. */
function scenario(name: string, vms: number, seconds: number, fault: string, test = 'test: { type: ping, count: 1, converge_ms: 10000 }', vm = ''): string {
  return `
name: ${prefix}-${name}
${vm}
hosts: { count: 3 }
vpcs: [{ name: vpc1, cidr: 10.7.0.0/16, subnets: [{ name: s, cidr: 10.7.0.0/16, vms: ${vms} }] }]
schedule: { type: rps, rate: ${vms / seconds} }
${test}
faults:
  - ${fault}
`;
}

describe('faults on the local emulation', () => {
  it('agent-kill: the agent is SIGKILLed mid-run, its supervisor starts it again, its VMs are resent and the run completes', async () => {
    const before = processesOf(1).agent!.pid;
    const { scenario: s, report } = await runToEnd(scenario('kill', 30, 3, `{ kind: agent-kill, after_ready: 3, hosts: { names: [${vhost(1)}] } }`, 'test: none'));
    expect(s.error).toBe('');
    expect(s.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(s.vms).toMatchObject({ requested: 30, ready: 30, failed: 0 });
    expect(processesOf(1).agent!.pid).not.toBe(before);
    const [f] = report.faults ?? [];
    expect(f).toMatchObject({ index: 0, kind: 'agent-kill', targets: [vhost(1)], vmsFailed: 0 });
    expect(f!.detail).toMatch(new RegExp(`SIGKILL to the agent of ${vhost(1)} \\(pid ${before}\\).*back after`));
    expect(f!.endMs).toBeGreaterThan(f!.startMs);
    expect(f!.vmsWaited).toBeGreaterThan(0);
    expect(f!.vmsResent).toBeGreaterThan(0);
    expect(f!.vmsResent).toBeLessThanOrEqual(f!.vmsWaited);
    expect(f!.healthyAfterMs).toBeGreaterThanOrEqual(f!.endMs! - f!.startMs);
    expect(report.run?.timeline.some((e) => e.kind === 'fault')).toBe(true);
  }, 240_000);

  it('vhost-isolate: the underlay goes down for for_s and up again; the run completes and the ping test passes after it', async () => {
    const { scenario: s, report } = await runToEnd(scenario('isolate', 12, 2, `{ kind: vhost-isolate, at_s: 0.2, for_s: 2, hosts: { names: [${vhost(2)}] } }`));
    expect(s.error).toBe('');
    expect(s.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(s.test).toMatchObject({ pairsFailed: 0 });
    expect(s.test!.pairsPassed).toBe(12 * 11);
    const [f] = report.faults ?? [];
    expect(f).toMatchObject({ kind: 'vhost-isolate', targets: [vhost(2)], vmsFailed: 0, vmsResent: 0 });
    expect(f!.endMs! - f!.startMs).toBe(2000);
    expect(f!.detail).toMatch(new RegExp(`eth0 of ${vhost(2)} down for 2000 ms`));
    const link = execFileSync('ip', ['-n', vhost(2), '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' });
    expect((JSON.parse(link) as Array<{ flags: string[] }>)[0]!.flags).toContain('UP');
  }, 240_000);

  it('ovs-restart: ovs-vswitchd exits, its supervisor starts it again, the agent restores its flows, and the ping test passes', async () => {
    const before = processesOf(0).vswitchd!.pid;
    const { scenario: s, report } = await runToEnd(scenario('ovs', 12, 2, `{ kind: ovs-restart, after_ready: 2, hosts: { names: [${vhost(0)}] } }`));
    expect(s.error).toBe('');
    expect(s.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(s.test).toMatchObject({ pairsFailed: 0 });
    expect(s.test!.pairsPassed).toBe(12 * 11);
    expect(processesOf(0).vswitchd!.pid).not.toBe(before);
    const [f] = report.faults ?? [];
    expect(f).toMatchObject({ kind: 'ovs-restart', targets: [vhost(0)] });
    expect(f!.detail).toMatch(new RegExp(`ovs-vswitchd of ${vhost(0)} \\(pid ${before}\\) told to exit; back as pid \\d+ after \\d+ ms`));
    expect(f!.endMs).toBeGreaterThan(f!.startMs);
    expect(f!.healthyAfterMs).toBeDefined();
  }, 240_000);

  it('ovs-restart with OVS internal ports (the kind Alcor mode uses): the VMs keep their eth0 and the ping test passes', async () => {
    const { scenario: s, report } = await runToEnd(scenario('ovsint', 12, 2, `{ kind: ovs-restart, after_ready: 2, hosts: { names: [${vhost(1)}] } }`, undefined, 'vm: { port_kind: internal }'));
    expect(report.faults?.[0]).toMatchObject({ kind: 'ovs-restart', targets: [vhost(1)] });
    expect(s.error).toBe('');
    expect(s.test).toMatchObject({ pairsFailed: 0 });
    expect(s.test!.pairsPassed).toBe(12 * 11);
  }, 240_000);
});
