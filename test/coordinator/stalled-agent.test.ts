// An agent that keeps its connection but stops answering (SIGSTOP: its process frozen, its
// sockets open) mid-scenario. The coordinator notices through the progress deadline, treats it as
// lost (its VMs wait), and sends them again when it is back (SIGCONT: it sees its stream ended and
// registers again): the run completes, nothing made twice. One that never comes back has its VMs
// failed with the reason once the lost-agent timeout passes, and the failed run has a report.
// Real processes: the coordinator (coordinator/dist/main.js) and three hollow agents.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import type { AgentProcess } from '../../lab/local/agent-process.js';
import type { Report } from '../../coordinator/report/report.js';
import { type ProcessCluster, metric, settledScenario, startProcessCluster, startRpsScenario, until } from '../fixtures/coordinator-processes.js';

const token = 'stall-test-token';
let cluster: ProcessCluster;
let dir = '';
let agents: readonly AgentProcess[] = [];
const stopped = new Set<number>();
let client: CoordinatorClient;

const freeze = (a: AgentProcess): void => {
  process.kill(a.pid, 'SIGSTOP');
  stopped.add(a.pid);
};
const thaw = (a: AgentProcess): void => {
  process.kill(a.pid, 'SIGCONT');
  stopped.delete(a.pid);
};

beforeAll(async () => {
  cluster = await startProcessCluster({ prefix: 'merak-stall-', token, agents: 3, coordinatorArgs: ['--progress-deadline', '2', '--lost-agent-timeout', '8'] });
  ({ dir, agents } = cluster);
  client = new CoordinatorClient(cluster.address, token);
}, 60_000);

afterAll(async () => {
  client?.close();
  // A stopped process handles no SIGTERM: let it run again first.
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  await cluster?.close();
}, 60_000);

/** 300 VMs at 100 per second on the 3 agents (3 s of work); resolves once some are ready. */
const startScenario = (name: string, cidr: string): Promise<coordinatorV1.Scenario> =>
  startRpsScenario(client, { name, cidr, vms: 300, readyAtLeast: 45, placement: 'placement: { type: uniform }' });

const settled = (id: string): Promise<coordinatorV1.Scenario> => settledScenario(client, id);

const agentMetric = (i: number, name: string): Promise<number> => metric(cluster.agentHttp(i), name);

describe('an agent that stops answering', () => {
  it('is treated as lost after the progress deadline; its VMs wait, are sent again when it is back, and the run completes', async () => {
    const created = await startScenario('stall-back', '10.1.0.0/16');
    freeze(agents[1]!);
    // Its VMs wait for it (the deadline passed with its chunk unanswered).
    const during = await until('VMs waiting for hv-1', async () => {
      const s = await client.getScenario(created.id);
      return s.vms!.waiting > 0 ? s : undefined;
    });
    expect(during.lostHosts).toEqual(['hv-1']);
    expect(during.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING);
    await until('the stall to be counted', async () => ((await metric(join(dir, 'c-http.sock'), 'merak_coordinator_agent_stalls_total')) >= 1 ? true : undefined));
    expect(readFileSync(join(dir, 'coordinator.log'), 'utf8')).toMatch(/"host":"hv-1".*"msg":"agent stalled: no result within the progress deadline; treated as lost"/);

    thaw(agents[1]!);
    const done = await settled(created.id);
    expect(done.error).toBe('');
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(done.vms).toMatchObject({ requested: 300, ready: 300, failed: 0, pending: 0, waiting: 0 });
    expect(done.lostHosts).toEqual([]);
    // It came back by registering again: the coordinator had ended its stream.
    expect(readFileSync(join(dir, 'agent-1.log'), 'utf8')).toMatch(/"msg":"coordinator link lost"/);
    // Nothing made twice: 300 made in all, 100 held by each agent.
    const made = await Promise.all([0, 1, 2].map((i) => agentMetric(i, 'merak_agent_vms_created_total')));
    expect(made.reduce((a, b) => a + b, 0)).toBe(300);
    expect(await Promise.all([0, 1, 2].map((i) => agentMetric(i, 'merak_agent_vms_present')))).toEqual([100, 100, 100]);
    // The timeline tells it.
    const report = JSON.parse((await client.getReport(created.id)).json) as Report;
    const kinds = report.run!.timeline.map((e) => e.kind);
    expect(kinds).toContain('agent-stalled');
    expect(kinds.indexOf('agent-back')).toBeGreaterThan(kinds.indexOf('agent-stalled'));
    await client.deleteScenario(created.id);
    await until('the scenario deleted', async () => ((await client.getScenario(created.id)).phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED ? true : undefined));
  }, 120_000);

  it('fails its VMs with the reason once the lost-agent timeout passes, and the failed run has a report', async () => {
    const created = await startScenario('stall-gone', '10.2.0.0/16');
    freeze(agents[2]!);
    const done = await settled(created.id);
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED);
    // Every VM has a result: hv-2's unanswered ones failed, the others ready.
    expect(done.vms!.pending).toBe(0);
    expect(done.vms!.failed).toBeGreaterThan(0);
    expect(done.vms!.ready + done.vms!.failed).toBe(300);
    expect(done.error).toBe(`${done.vms!.failed} VMs failed`);
    const report = JSON.parse((await client.getReport(created.id)).json) as Report;
    expect(report.failures.byCode).toEqual({ DEADLINE_EXCEEDED: done.vms!.failed });
    expect(new Set(report.failures.first.map((f) => f.host))).toEqual(new Set(['hv-2']));
    expect(report.failures.first[0]!.message).toBe('hv-2: the agent sent no result for 2 s (progress deadline) and did not come back working within 8 s');
    expect(report.run).toMatchObject({ outcome: 'failed', made: { vms: done.vms!.ready }, leftBehind: { vms: done.vms!.ready } });
    expect(report.run!.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['agent-lost', 'agent-stalled', 'failed']));
  }, 120_000);
});
