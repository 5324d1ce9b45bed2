// The coordinator over real gRPC with hollow agents (the real agent and API, no kernel work):
// agents register, a scenario is planned and fanned out, results land in the store, delete tears
// down; a lost agent's VMs wait for it and are sent again when it is back.
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import type { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { type InProcessCoordinator, startInProcessCoordinator } from '../fixtures/coordinator-in-process.js';
import { waitFor } from '../fixtures/processes.js';

const TOKEN = 'test-token';
let c: InProcessCoordinator;
let registry: AgentRegistry;
let engine: ScenarioEngine;
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
const failure = (p: Promise<unknown>): Promise<ServiceError> => p.then(() => { throw new Error('expected a failure'); }, (e: ServiceError) => e);

const until = (what: string, check: () => boolean): Promise<void> => waitFor(check, 10_000, what);

beforeAll(async () => {
  c = await startInProcessCoordinator({ prefix: 'merak-engine-', logger: pino({ level: 'silent' }), token: TOKEN, fanout: { agentReturnTimeoutMs: 20_000 } });
  ({ registry, engine } = c);
  for (let i = 0; i < 4; i++) await c.startAgent(`vhost-${i}`);
  client = new coordinatorV1.CoordinatorClient(c.address, credentials.createInsecure());
  await until('4 agents', () => registry.connected().length === 4);
});

afterAll(async () => {
  client?.close();
  await c?.close();
});

const scenarioText = (name: string, extra = ''): string => `
name: ${name}
hosts: { count: 4 }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: s1, cidr: 10.1.0.0/16, vms: 200 }]
placement: { type: skew, vm_fraction: 0.5, host_fraction: 0.25 }
schedule: { type: rps, rate: 2000 }
test: none
${extra}`;

describe('coordinator with hollow agents', () => {
  it('lists the agents that registered', async () => {
    const res = await api.listAgents();
    expect(res.agents.map((a) => [a.info?.name, a.connected, a.info?.hollow])).toEqual([0, 1, 2, 3].map((i) => [`vhost-${i}`, true, true]));
  });

  it('creates a scenario on every agent by its placement, and deletes it', async () => {
    const created = await api.createScenario({ text: scenarioText('hollow'), format: 'yaml' });
    expect(created.vms?.requested).toBe(200);
    expect(created.provider).toBe('standalone');
    await engine.settled(created.id);
    const done = await api.getScenario(created.id);
    expect(done.error).toBe('');
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(done.vms).toMatchObject({ requested: 200, ready: 200, failed: 0, pending: 0 });
    // skew: half the VMs on the hot quarter (vhost-0), the rest spread over the others.
    expect([0, 1, 2, 3].map((i) => c.agents.get(`vhost-${i}`)!.runner.vmCount)).toEqual([100, 34, 33, 33]);
    const report = engine.status(created.id)!.report!;
    expect(report.vms).toEqual({ requested: 200, ready: 200, failed: 0, pending: 0 });
    expect(report.latencyMs.endToEnd.count).toBe(200);
    expect(report.latencyMs.steps.hollow?.count).toBe(200);
    // rps 2000: the last VM may not start before ~100 ms after acceptance.
    expect(report.latencyMs.endToEnd.max).toBeGreaterThanOrEqual(99);
    // The same name cannot be used twice while the first scenario lives.
    expect((await failure(api.createScenario({ text: scenarioText('hollow'), format: 'yaml' }))).code).toBe(status.ALREADY_EXISTS);

    await api.deleteScenario(created.id);
    await engine.settled(created.id);
    const deleted = await api.getScenario(created.id);
    expect(deleted.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    expect(deleted.vms).toMatchObject({ requested: 200, deleted: 200 });
    expect([...c.agents.values()].map((a) => a.runner.vmCount)).toEqual([0, 0, 0, 0]);
  });

  it('gives live scenarios distinct VNIs unless told, and refuses an explicit clash', async () => {
    const a = engine.create(scenarioText('vni-a').replace('test: none', 'test: none\nplacement: { type: uniform }').replace('placement: { type: skew, vm_fraction: 0.5, host_fraction: 0.25 }\n', ''));
    const b = engine.create(scenarioText('vni-b').replace('placement: { type: skew, vm_fraction: 0.5, host_fraction: 0.25 }\n', ''));
    await Promise.all([engine.settled(a.id), engine.settled(b.id)]);
    const vnis = engine.liveVnis();
    expect([...vnis.get('vhost-0')!].sort()).toEqual([1001, 1002]);
    const clash = await failure(api.createScenario({ text: scenarioText('vni-c').replace('cidr: 10.1.0.0/16\n    subnets', 'cidr: 10.1.0.0/16\n    vni: 1002\n    subnets'), format: 'yaml' }));
    expect(clash.code).toBe(status.INVALID_ARGUMENT);
    expect(clash.details).toMatch(/vpcs\[0\]\.vni: 1002 is used by live scenario 'vni-b'/);
    engine.delete(a.id);
    engine.delete(b.id);
    await Promise.all([engine.settled(a.id), engine.settled(b.id)]);
    expect(engine.liveVnis().size).toBe(0);
  });

  it('notices a lost agent, keeps its VMs waiting, and sends them when it registers again', async () => {
    const text = scenarioText('lost').replace('rate: 2000', 'rate: 100').replace('type: skew, vm_fraction: 0.5, host_fraction: 0.25', 'type: uniform');
    const created = await api.createScenario({ text, format: 'yaml' });
    // Stop vhost-3 a moment after the scenario starts (200 VMs at 100/s: 2 s of work).
    await new Promise((r) => setTimeout(r, 300));
    await c.stopAgent('vhost-3', 100);
    await until('vhost-3 lost', () => engine.status(created.id)!.lostHosts.includes('vhost-3'));
    await until('VMs waiting for vhost-3', () => engine.status(created.id)!.counts.waiting > 0);
    const during = await api.getScenario(created.id);
    expect(during.lostHosts).toEqual(['vhost-3']);
    expect(during.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING);
    await c.startAgent('vhost-3');
    await engine.settled(created.id);
    const done = engine.status(created.id)!;
    expect(done.error).toBe('');
    expect(done.phase).toBe('ready');
    expect(done.counts).toMatchObject({ ready: 200, failed: 0, pending: 0, waiting: 0 });
    expect(done.lostHosts).toEqual([]);
    // The restarted (hollow, memory-only) agent holds exactly the VMs sent to it after it came back.
    expect(c.agents.get('vhost-3')!.runner.vmCount).toBeGreaterThan(0);
    engine.delete(created.id);
    await engine.settled(created.id);
  });

  it('rejects a bad scenario naming every field, and unknown ids', async () => {
    const err = await failure(api.createScenario({ text: 'name: x\nhosts: {count: 9}\nvpcs: [{name: v, cidr: 10.0.0.0/33}]', format: '' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/vpcs\[0\]\.cidr: "10\.0\.0\.0\/33" is not an IPv4 CIDR/);
    const tooMany = await failure(api.createScenario({ text: scenarioText('many').replace('count: 4', 'count: 9'), format: 'yaml' }));
    expect(tooMany.code).toBe(status.FAILED_PRECONDITION);
    expect(tooMany.details).toMatch(/hosts\.count: 9 hosts wanted, 4 agents connected/);
    const missing = await failure(api.getScenario('nope'));
    expect(missing.code).toBe(status.NOT_FOUND);
  });

  it('refuses calls without the token', async () => {
    const anon = new coordinatorV1.CoordinatorClient(client.getChannel().getTarget(), credentials.createInsecure());
    const err = await new Promise<ServiceError | null>((r) => anon.listAgents({}, new Metadata(), (e) => r(e)));
    anon.close();
    expect(err?.code).toBe(status.UNAUTHENTICATED);
  });
});
