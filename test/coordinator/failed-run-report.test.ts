// A scenario that fails has a report like any other. Against the Alcor-compatible server with
// every subnet create answered 500: the scenario fails at its network set-up, and its report (over
// the coordinator's API, and as the CLI prints it) names the step, the call, Alcor's status and
// body, the timeline up to the failure, and what the set-up had made in Alcor, removed again before
// the run failed (Alcor is left as it was); deleting the scenario still works. Hollow agents (the real agent, no kernel work) and the real gRPC API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { runScenario } from '../../lab/cli/run-scenario.js';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { nodeIdOf } from '../../coordinator/providers/provider-alcor.js';
import type { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import type { Report } from '../../coordinator/report/report.js';
import { parseScenario } from '../../coordinator/scenario/index.js';
import { Store } from '../../coordinator/store/store.js';
import type { AlcorServer } from '../alcor/index.js';
import { type AlcorHarness, startAlcorHarness } from './alcor-harness.js';

const logger = pino({ level: 'silent' });
let h: AlcorHarness;
let dir = '';
let alcor: AlcorServer;
let registry: AgentRegistry;
let engine: ScenarioEngine;
let client: CoordinatorClient;

beforeAll(async () => {
  h = await startAlcorHarness({ prefix: 'merak-failed-report-', hosts: 3, logger, seed: 5, hostPrefix: 'fr-' });
  ({ alcor, registry, engine } = h);
  dir = h.coordinator.dir;
  client = new CoordinatorClient(h.coordinator.address, undefined);
});

afterAll(async () => {
  client?.close();
  await h?.close();
});

const scenario = (name: string): string => `
${h.scenarioHead(name, 1)}
hosts: { count: 3 }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: 30 }]
test: none
`;

describe('a failed run', () => {
  it('has a report naming the failed step with Alcor’s status and body, its timeline, and what it made and rolled back; the CLI prints it', async () => {
    // Not transient for long: every subnet create, however often it is retried.
    alcor.faults.add({ service: 'subnet', method: 'POST', path: '/project/*/subnets', action: { kind: 'status', status: 500, message: 'subnet store unavailable (injected)' } });
    const lines: string[] = [];
    const outcome = await runScenario(client, scenario('fr'), { out: join(dir, 'out'), progress: false, log: (l) => lines.push(l) });
    alcor.faults.clear();

    // The scenario failed at its network set-up, before any VM.
    const s = outcome.scenario;
    expect(outcome.ok).toBe(false);
    expect(s.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED);
    expect(s.error).toMatch(/POST \/project\/\{project_id\}\/subnets.*answered 500/);
    expect(s.vms).toMatchObject({ requested: 30, ready: 0, failed: 0 });

    const report = JSON.parse((await client.getReport(s.id)).json) as Report;
    const run = report.run!;
    expect(run.outcome).toBe('failed');
    expect(run.requested).toEqual({ vms: 30, hosts: 3, vpcs: 1, subnets: 1, securityGroups: 0, routers: 0 });
    expect(run.failure).toMatchObject({
      step: 'network set-up', phase: 'network',
      call: { system: 'alcor', operation: 'subnet create', endpoint: 'POST /project/{project_id}/subnets', status: 500, url: `${alcor.urls.subnet}/project/proj-fr/subnets` },
    });
    expect(run.failure!.call!.body).toContain('subnet store unavailable (injected)');
    // The timeline up to the failure.
    expect(run.timeline.map((e) => `${e.kind} ${e.kind === 'failed' ? 'error' : e.message}`)).toEqual([
      'phase network', 'rollback network set-up failed: removing the 4 objects it made', 'rollback removed', 'failed error',
    ]);
    expect(run.timeline.at(-1)!.message).toBe(s.error);
    // What it made in Alcor before the subnet: listed, and removed again before the run failed.
    const nodes = [0, 1, 2].map((i) => ({ kind: 'node', name: `fr-${i}`, id: nodeIdOf(`fr-${i}`) }));
    const vpcId = run.made.controlPlane.find((o) => o.kind === 'vpc')?.id ?? '';
    expect(vpcId).not.toBe('');
    expect(run.made).toEqual({ vms: 0, controlPlane: [...nodes, { kind: 'vpc', name: 'vpc1', id: vpcId }] });
    expect(run.rolledBack).toEqual(run.made.controlPlane);
    expect(run.leftBehind).toEqual({ vms: 0, controlPlane: [], hint: '' });
    const inAlcor = alcor.state();
    expect({ vpcs: inAlcor.vpcs, subnets: inAlcor.subnets, nodes: inAlcor.nodes }).toEqual({ vpcs: [], subnets: [], nodes: [] });

    // The CLI printed that report, and wrote it out.
    const printed = lines.join('\n');
    expect(printed).not.toMatch(/no report/);
    expect(printed).toContain('Run: failed');
    expect(printed).toContain('failed at: network set-up (phase network)');
    expect(printed).toMatch(/call: subnet create: POST \/project\/\{project_id\}\/subnets \(.*\) -> 500/);
    expect(printed).toContain('subnet store unavailable (injected)');
    expect(printed).toContain('rolled back: node fr-0, node fr-1, node fr-2, vpc vpc1');
    expect(printed).toContain('left behind: 0 VMs; nothing in the control plane');
    expect(lines.at(-1)).toBe(`scenario fr failed: ${s.error}`);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8'))).toMatchObject({ run: { outcome: 'failed' } });
    expect(readFileSync(join(dir, 'out', 'report.html'), 'utf8')).toContain('subnet create');

    // Deleting the failed scenario still works, and Alcor stays empty.
    await client.deleteScenario(s.id);
    await engine.settled(s.id);
    expect((await client.getScenario(s.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    const left = alcor.state();
    expect({ vpcs: left.vpcs, subnets: left.subnets, nodes: left.nodes }).toEqual({ vpcs: [], subnets: [], nodes: [] });
  });

  it('has a report when it failed under an older coordinator that kept none', () => {
    const old = new Store(':memory:');
    const spec = { scenario: parseScenario(scenario('legacy')), hosts: ['fr-0'], acceptedAt: 1000, tag: '1' };
    old.insertScenario({ id: 'legacy-1', name: 'legacy', specJson: JSON.stringify(spec), phase: 'failed', error: 'Alcor POST /project/{project_id}/vpcs (...): answered 503', createdAt: 1000, updatedAt: 2000 });
    const restarted = new ScenarioEngine({ store: old, registry, logger, agents: registry, controlPlanes: {} });
    const run = restarted.status('legacy-1')!.report!.run!;
    expect(run).toMatchObject({ outcome: 'failed', error: 'Alcor POST /project/{project_id}/vpcs (...): answered 503', requested: { vms: 30, hosts: 1 } });
    expect(run.failure!.step).toMatch(/^unknown/);
    expect(run.failure!.message).toBe(run.error);
    old.close();
  });
});
