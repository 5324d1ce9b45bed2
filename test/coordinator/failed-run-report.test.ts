// A scenario that fails has a report like any other. Against the Alcor-compatible server with
// every subnet create answered 500: the scenario fails at its network set-up, and its report (over
// the coordinator's API, and as the CLI prints it) names the step, the call, Alcor's status and
// body, the timeline up to the failure and what the run left in Alcor; deleting the scenario then
// leaves nothing. Hollow agents (the real agent, no kernel work) and the real gRPC API.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../coordinator/cli/coordinator-client.js';
import { runScenario } from '../../coordinator/cli/run-scenario.js';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { DEFAULT_FANOUT } from '../../coordinator/fanout/fanout.js';
import { alcorControlPlane, nodeIdOf } from '../../coordinator/providers/provider-alcor.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import type { Report } from '../../coordinator/report/report.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { parseScenario } from '../../coordinator/scenario/index.js';
import { Store } from '../../coordinator/store/store.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';

const logger = pino({ level: 'silent' });
let dir = '';
let alcor: AlcorServer;
let store: Store;
let registry: AgentRegistry;
let engine: ScenarioEngine;
let server: Server;
let client: CoordinatorClient;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-failed-report-'));
  alcor = await startAlcorServer({ mode: 'node-ports', seed: 5 });
  store = new Store(join(dir, 'state.db'));
  registry = new AgentRegistry({ minHeartbeatMs: 200 });
  engine = new ScenarioEngine({
    store, registry, logger, agents: registry,
    controlPlanes: { alcor: alcorControlPlane({ defaultUrl: undefined, agents: registry, store, logger }) },
    fanout: { ...DEFAULT_FANOUT, backoff: { initialMs: 20, maxMs: 100 } },
  });
  server = new Server();
  server.addService(coordinatorV1.CoordinatorService, createCoordinatorService(engine, registry));
  const sock = join(dir, 'c.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  for (let i = 0; i < 3; i++) {
    const config = parseAgentConfig(
      ['--vhost', `fr-${i}`, '--hollow', '--insecure', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`,
        '--coordinator', `unix:${sock}`, '--underlay-ip', `198.51.100.${20 + i}`],
      {},
    );
    if (config === 'help') throw new Error('unexpected');
    agents.push(await startAgent(config, createHollowBackend(), logger));
  }
  const deadline = Date.now() + 10_000;
  while (registry.connected().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  client = new CoordinatorClient(`unix:${sock}`, undefined);
});

afterAll(async () => {
  client?.close();
  for (const a of agents) await a.stop(1000);
  await engine?.shutdown();
  server?.forceShutdown();
  registry?.close();
  store?.close();
  await alcor?.close();
  rmSync(dir, { recursive: true, force: true });
});

const scenario = (name: string): string => `
name: ${name}
provider: alcor
alcor:
  endpoints: { vpc: ${alcor.urls.vpc}, subnet: ${alcor.urls.subnet}, route: ${alcor.urls.route}, port: ${alcor.urls.port}, node: ${alcor.urls.node}, sg: ${alcor.urls.sg} }
  project_id: proj-${name}
  timeout_ms: 1000
  retries: 1
hosts: { count: 3 }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: 30 }]
test: none
`;

describe('a failed run', () => {
  it('has a report naming the failed step with Alcor’s status and body, its timeline, and what it left; the CLI prints it', async () => {
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
    expect(run.timeline.map((e) => `${e.kind} ${e.kind === 'failed' ? 'error' : e.message}`)).toEqual(['phase network', 'failed error']);
    expect(run.timeline.at(-1)!.message).toBe(s.error);
    // What it made in Alcor before the subnet, still there (nothing is rolled back): listed.
    const nodes = [0, 1, 2].map((i) => ({ kind: 'node', name: `fr-${i}`, id: nodeIdOf(`fr-${i}`) }));
    const vpcId = alcor.state().vpcs.find((v) => v.name === 'vpc1')!.id;
    expect(run.made).toEqual({ vms: 0, controlPlane: [...nodes, { kind: 'vpc', name: 'vpc1', id: vpcId }] });
    expect(run.leftBehind).toEqual({ vms: 0, controlPlane: run.made.controlPlane, hint: `'merak delete ${s.id}' removes them` });
    expect(alcor.state().subnets).toEqual([]);

    // The CLI printed that report, and wrote it out.
    const printed = lines.join('\n');
    expect(printed).not.toMatch(/no report/);
    expect(printed).toContain('Run: failed');
    expect(printed).toContain('failed at: network set-up (phase network)');
    expect(printed).toMatch(/call: subnet create: POST \/project\/\{project_id\}\/subnets \(.*\) -> 500/);
    expect(printed).toContain('subnet store unavailable (injected)');
    expect(printed).toContain('left behind: 0 VMs; node fr-0, node fr-1, node fr-2, vpc vpc1');
    expect(lines.at(-1)).toBe(`scenario fr failed: ${s.error}`);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8'))).toMatchObject({ run: { outcome: 'failed' } });
    expect(readFileSync(join(dir, 'out', 'report.html'), 'utf8')).toContain('subnet create');

    // Deleting the failed scenario removes what it left: nothing in Alcor.
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
