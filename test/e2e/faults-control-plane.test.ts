// The control-plane faults on the local emulation in Alcor mode, with real processes: the
// coordinator's fault proxy (local up --host-access gives it this machine's underlay address)
// stands between the agents and the Alcor-compatible server; while a fault lasts it answers the
// agents' calls with an error status, or holds them back, and the report says how many calls it
// hit and what that did to the VMs. Calls pass through untouched outside the fault.
import { coordinatorV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { readLocalRecord } from '../../lab/local/local-record.js';
import { isRunning, signalRecorded } from '../../lab/local/process-record.js';
import type { Report } from '../../coordinator/report/report.js';
import { useAlcorEmulation } from '../fixtures/alcor-emulation.js';
import { httpGet, requireRoot } from '../fixtures/local-emulation.js';

requireRoot();
const emu = useAlcorEmulation({ letter: 'c', seed: 5, dirName: 'merak-cp-faults-' });

/** 9 VMs over ~2 s in Alcor mode, the fault given; retries outlast a 1 s fault (200 ms doubling: 3 s over 4 retries). */
const scenario = (name: string, fault: string): string => `
name: ${emu.prefix}-${name}
provider: alcor
alcor:
  endpoints: { vpc: ${emu.alcor.urls.vpc}, subnet: ${emu.alcor.urls.subnet}, route: ${emu.alcor.urls.route}, port: ${emu.alcor.urls.port}, node: ${emu.alcor.urls.node}, sg: ${emu.alcor.urls.sg} }
  retries: 4
hosts: { count: 3 }
vpcs: [{ name: vpc1, cidr: 10.8.0.0/16, subnets: [{ name: s, cidr: 10.8.0.0/16, gateway: 10.8.0.1, vms: 9 }] }]
schedule: { type: rps, rate: 4.5 }
test: none
faults:
  - ${fault}
`;

const runs: string[] = [];

async function runToEnd(text: string): Promise<{ scenario: coordinatorV1.Scenario; report: Report }> {
  const created = await emu.client.createScenario(text, 'yaml');
  runs.push(created.id);
  await emu.client.watch(created.id, () => undefined);
  return { scenario: await emu.client.getScenario(created.id), report: JSON.parse((await emu.client.getReport(created.id)).json) as Report };
}

/** The port calls the Alcor server saw from the agents (the coordinator makes none). */
const portCalls = (): number => emu.alcor.calls.all().filter((c) => c.service === 'port').length;

describe('control-plane faults through the proxy', () => {
  it('control-plane-errors: the agents get 503 for 1 s, retry past it, every VM is made, and the report counts the calls hit', async () => {
    const before = portCalls();
    const { scenario: s, report } = await runToEnd(scenario('errors', '{ kind: control-plane-errors, at_s: 0, for_s: 1, status: 503, rate: 1 }'));
    expect(s.error).toBe('');
    expect(s.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(s.vms).toMatchObject({ requested: 9, ready: 9, failed: 0 });
    const [f] = report.faults ?? [];
    expect(f).toMatchObject({ kind: 'control-plane-errors', targets: [], vmsFailed: 0, endMs: f!.startMs + 1000 });
    const m = /HTTP 503 answered to (\d+) of (\d+) agents' control-plane calls \(rate 1\) for 1 s/.exec(f!.detail);
    expect(m, f!.detail).not.toBeNull();
    const hit = Number(m![1]);
    expect(hit).toBeGreaterThan(0);
    expect(Number(m![2])).toBe(hit);
    expect(f!.vmsWaited).toBeGreaterThan(0);
    // The calls answered 503 never reached Alcor; each VM's port was still made and bound there.
    expect(portCalls() - before).toBeGreaterThanOrEqual(18);
    const agentsPort = report.controlPlane?.endpoints.find((e) => e.endpoint.includes('port') && e.errors > 0);
    expect(agentsPort, JSON.stringify(report.controlPlane)).toBeDefined();
    // The metrics say it too: the agents' 5xx answers, the coordinator's own calls.
    const agentMetrics = (await Promise.all(emu.up.emulation.vhosts.map((v) => httpGet(v.httpSocket, '/metrics')))).map((r) => r.body).join('\n');
    expect(agentMetrics).toMatch(/^merak_agent_control_plane_call_seconds_count\{.*outcome="5xx"\} [1-9]/m);
    const coordinatorMetrics = await httpGet(emu.up.record.coordinatorLaunch.http.slice('unix:'.length), '/metrics');
    expect(coordinatorMetrics.body).toMatch(/^merak_coordinator_control_plane_call_seconds_count\{.*outcome="2xx"\} [1-9]/m);
  }, 240_000);

  it('control-plane-delay: every agent call is held 400 ms for 1 s; the VMs made then are slower and all ready', async () => {
    const { scenario: s, report } = await runToEnd(scenario('delay', '{ kind: control-plane-delay, at_s: 0, for_s: 1, delay_ms: 400 }'));
    expect(s.error).toBe('');
    expect(s.vms).toMatchObject({ requested: 9, ready: 9, failed: 0 });
    const [f] = report.faults ?? [];
    expect(f).toMatchObject({ kind: 'control-plane-delay', vmsFailed: 0, vmsResent: 0 });
    const m = /400 ms added to (\d+) of (\d+) agents' control-plane calls/.exec(f!.detail);
    expect(m, f!.detail).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(f!.vmsWaited).toBeGreaterThan(0);
    // A delayed call took at least the delay: the slowest agent port call shows it.
    const port = report.controlPlane!.endpoints.filter((e) => e.endpoint.includes('port'));
    expect(Math.max(...port.map((e) => e.max)), JSON.stringify(port)).toBeGreaterThanOrEqual(400);
  }, 240_000);

  it("deletes those runs' VMs through the proxy URLs their agents recorded, after the coordinator was killed and started again", async () => {
    const coordinator = readLocalRecord(emu.local)!.coordinatorProcess;
    expect(signalRecorded(coordinator, 'SIGKILL')).toBe(true);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = readLocalRecord(emu.local)!.coordinatorProcess;
      if (now.pid !== coordinator.pid && isRunning(now) && (await emu.client.listScenarios().then(() => true, () => false))) break;
      if (Date.now() > deadline) throw new Error('the coordinator was not started again within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const id of runs) {
      await emu.client.deleteScenario(id);
      await emu.client.watch(id, () => undefined);
      const gone = await emu.client.getScenario(id);
      expect(gone.error).toBe('');
      expect(gone.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    }
    expect(emu.alcor.state().ports.filter((p) => p.device_owner !== 'network:router_interface')).toEqual([]);
  }, 240_000);
});
