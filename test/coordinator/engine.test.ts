// The coordinator over real gRPC with hollow agents (the real agent and API, no kernel work):
// agents register, a scenario is planned and fanned out, results land in the store, delete tears down.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { type RunningAgent, createHollowBackend, parseAgentConfig, requireToken, startAgent } from '@merak/agent';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../coordinator/agent-client/agent-client.js';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';

const TOKEN = 'test-token';
const logger = pino({ level: 'silent' });
let dir = '';
let server: Server;
let store: Store;
let registry: AgentRegistry;
let engine: ScenarioEngine;
const agents: RunningAgent[] = [];
let client: InstanceType<typeof coordinatorV1.CoordinatorClient>;

const md = (): Metadata => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${TOKEN}`);
  return m;
};
function unary<Res>(start: (cb: (e: ServiceError | null, r?: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((e, r) => (e ? reject(e) : resolve(r!))));
}
const api = {
  listAgents: () => unary<coordinatorV1.ListAgentsResponse>((cb) => client.listAgents({}, md(), cb)),
  createScenario: (req: coordinatorV1.CreateScenarioRequest) => unary<coordinatorV1.Scenario>((cb) => client.createScenario(req, md(), cb)),
  getScenario: (id: string) => unary<coordinatorV1.Scenario>((cb) => client.getScenario({ id }, md(), cb)),
  deleteScenario: (id: string) => unary<coordinatorV1.Scenario>((cb) => client.deleteScenario({ id }, md(), cb)),
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-engine-'));
  store = new Store(join(dir, 'state.db'));
  registry = new AgentRegistry(200);
  const clients = new Map<string, AgentClient>();
  registry.on('connected', (a) => clients.set(a.name, new AgentClient(a.address, { token: TOKEN })));
  engine = new ScenarioEngine({
    store, registry, logger, dataPlane: { configure: async () => {} },
    agents: { clientFor: (h) => (registry.get(h)?.connected ? clients.get(h) : undefined) },
  });
  server = new Server();
  server.addService(coordinatorV1.CoordinatorService, requireToken(createCoordinatorService(engine, registry), TOKEN));
  const sock = join(dir, 'coordinator.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  for (let i = 0; i < 4; i++) {
    const config = parseAgentConfig(
      ['--vhost', `vhost-${i}`, '--hollow', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`, '--coordinator', `unix:${sock}`],
      { MERAK_TOKEN: TOKEN },
    );
    if (config === 'help') throw new Error('unexpected');
    agents.push(await startAgent(config, createHollowBackend(), logger));
  }
  client = new coordinatorV1.CoordinatorClient(`unix:${sock}`, credentials.createInsecure());
  const deadline = Date.now() + 10_000;
  while (registry.connected().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
});

afterAll(async () => {
  client?.close();
  for (const a of agents) await a.stop(1000);
  server?.forceShutdown();
  registry?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const scenarioText = `
name: hollow
hosts: { count: 4 }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: s1, cidr: 10.1.0.0/16, vms: 200 }]
placement: { type: skew, vm_fraction: 0.5, host_fraction: 0.25 }
schedule: { type: rps, rate: 2000 }
test: none
`;

describe('coordinator with hollow agents', () => {
  it('lists the agents that registered', async () => {
    const res = await api.listAgents();
    expect(res.agents.map((a) => [a.info?.name, a.connected, a.info?.hollow])).toEqual([0, 1, 2, 3].map((i) => [`vhost-${i}`, true, true]));
  });

  it('creates a scenario on every agent by its placement, and deletes it', async () => {
    const created = await api.createScenario({ text: scenarioText, format: 'yaml' });
    expect(created.vms?.requested).toBe(200);
    await engine.settled(created.id);
    const done = await api.getScenario(created.id);
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(done.vms).toMatchObject({ requested: 200, ready: 200, failed: 0 });
    // skew: half the VMs on the hot quarter (vhost-0), the rest spread over the others.
    const counts = await Promise.all(agents.map((a) => a.runner.vmCount));
    expect(counts).toEqual([100, 34, 33, 33]);
    const report = engine.status(created.id)!.report!;
    expect(report.vms).toEqual({ requested: 200, ready: 200, failed: 0 });
    expect(report.latencyMs.endToEnd.count).toBe(200);
    // rps 2000: the last VM may not start before ~100 ms after acceptance.
    expect(report.latencyMs.endToEnd.max).toBeGreaterThanOrEqual(99);

    await api.deleteScenario(created.id);
    await engine.settled(created.id);
    expect((await api.getScenario(created.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    expect(agents.map((a) => a.runner.vmCount)).toEqual([0, 0, 0, 0]);
  });

  it('rejects a bad scenario naming every field, and unknown ids', async () => {
    const err = await api.createScenario({ text: 'name: x\nhosts: {count: 9}\nvpcs: [{name: v, cidr: 10.0.0.0/33}]', format: '' }).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((err as ServiceError).details).toMatch(/vpcs\[0\]\.cidr: "10\.0\.0\.0\/33" is not an IPv4 CIDR/);
    const tooMany = await api.createScenario({ text: scenarioText.replace('count: 4', 'count: 9'), format: 'yaml' }).catch((e: ServiceError) => e);
    expect((tooMany as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    const missing = await api.getScenario('nope').catch((e: ServiceError) => e);
    expect((missing as ServiceError).code).toBe(status.NOT_FOUND);
  });

  it('refuses calls without the token', async () => {
    const anon = new coordinatorV1.CoordinatorClient(client.getChannel().getTarget(), credentials.createInsecure());
    const err = await new Promise<ServiceError | null>((r) => anon.listAgents({}, new Metadata(), (e) => r(e)));
    anon.close();
    expect(err?.code).toBe(status.UNAUTHENTICATED);
  });
});
