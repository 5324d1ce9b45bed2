// The coordinator killed with SIGKILL in the middle of a scenario and started again over the same
// store: the scenario completes, nothing lost, nothing made twice. Real processes: the coordinator
// (coordinator/dist/main.js) and three hollow agents (agent/dist/main.js --hollow), over unix sockets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type ProcessCluster, metric, settledScenario, startProcessCluster, startRpsScenario } from '../fixtures/coordinator-processes.js';

const token = 'restart-test-token';
let cluster: ProcessCluster;
let dir = '';

beforeAll(async () => {
  cluster = await startProcessCluster({ prefix: 'merak-restart-', token, agents: 3 });
  dir = cluster.dir;
}, 60_000);

afterAll(async () => cluster?.close(), 60_000);

describe('coordinator restart', () => {
  it('completes a scenario after a SIGKILL mid-way, with every VM made exactly once', async () => {
    const client = new CoordinatorClient(cluster.address, token);
    // 300 VMs at 100 per second: 3 s of work; killed after about 1 s.
    const created = await startRpsScenario(client, { name: 'restart', cidr: '10.1.0.0/16', vms: 300, readyAtLeast: 60 });
    client.close();
    await cluster.coordinator.kill();
    const atKill = (await Promise.all(cluster.agents.map((_, i) => metric(cluster.agentHttp(i), 'merak_agent_vms_created_total')))).reduce((a, b) => a + b, 0);
    expect(atKill).toBeGreaterThanOrEqual(60);
    expect(atKill).toBeLessThan(300);

    await cluster.startCoordinator();
    const again = new CoordinatorClient(cluster.address, token);
    const done = await settledScenario(again, created.id);
    expect(done.error).toBe('');
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(done.vms).toMatchObject({ requested: 300, ready: 300, failed: 0, pending: 0 });
    // Nothing made twice: the agents made 300 VMs in all, and hold 300.
    const made = await Promise.all(cluster.agents.map((_, i) => metric(cluster.agentHttp(i), 'merak_agent_vms_created_total')));
    const present = await Promise.all(cluster.agents.map((_, i) => metric(cluster.agentHttp(i), 'merak_agent_vms_present')));
    expect(made.reduce((a, b) => a + b, 0)).toBe(300);
    expect(present).toEqual([100, 100, 100]);
    // The report covers every VM, those before the kill included.
    const report = JSON.parse((await again.getReport(created.id)).json) as { vms: { ready: number }; latencyMs: { endToEnd: { count: number } } };
    expect(report.vms.ready).toBe(300);
    expect(report.latencyMs.endToEnd.count).toBe(300);
    again.close();
  }, 120_000);

  it('stops cleanly on SIGTERM mid-scenario (exit 0, nothing marked failed) and resumes at the next start', async () => {
    const client = new CoordinatorClient(cluster.address, token);
    const created = await startRpsScenario(client, { name: 'graceful', cidr: '10.2.0.0/16', vms: 150, readyAtLeast: 30 });
    client.close();
    const t0 = Date.now();
    await cluster.coordinator.stop();
    expect(await cluster.coordinator.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(readFileSync(join(dir, 'coordinator.log'), 'utf8')).not.toMatch(/"msg":"scenario failed"/);
    await cluster.startCoordinator();
    const again = new CoordinatorClient(cluster.address, token);
    const done = await settledScenario(again, created.id);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 150, ready: 150, failed: 0 });
    again.close();
  }, 120_000);
});
