// A scenario in OVN mode through the engine, over real gRPC with hollow agents (their OVN VMs are
// ready at once) and a real OVN central: each chunk's ports are in NB before it is sent, one
// transaction per chunk, the report carries the OVN split and the NB transactions, and delete
// leaves nothing of the scenario in NB.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { requireToken } from '@merak/common';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { DEFAULT_FANOUT } from '../../coordinator/fanout/fanout.js';
import { ovnControlPlane } from '../../coordinator/providers/provider-ovn.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { ScenarioValidationError } from '../../coordinator/scenario/index.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';
import { NB_SCHEMA, type OvnCentral, startOvnCentral } from '../fixtures/ovn-central.js';
import { logger, nbRowsOf, rowsOfScenario, waitUntil } from './helpers.js';

const TOKEN = 'ovn-engine-token';
let dir = '';
let central: OvnCentral;
let server: Server;
let store: Store;
let registry: AgentRegistry;
let engine: ScenarioEngine;
let noNb: ScenarioEngine;
const agents: RunningAgent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-ovneng-'));
  central = await startOvnCentral({ tempPrefix: 'merak-ovnp-' });
  store = new Store(join(dir, 'state.db'));
  registry = new AgentRegistry({ minHeartbeatMs: 200 });
  const fanout = { ...DEFAULT_FANOUT, chunkSize: 4, backoff: { initialMs: 20, maxMs: 100 }, agentReturnTimeoutMs: 20_000 };
  engine = new ScenarioEngine({ store, registry, logger, agents: registry, controlPlanes: { ovn: ovnControlPlane({ defaultNb: central.nb, defaultSb: central.sb, store, logger, settleMs: 200 }) }, fanout });
  noNb = new ScenarioEngine({ store: new Store(':memory:'), registry, logger, agents: registry, controlPlanes: { ovn: ovnControlPlane({ defaultNb: undefined, defaultSb: undefined, store, logger }) }, fanout });
  server = new Server();
  server.addService(coordinatorV1.CoordinatorService, requireToken(createCoordinatorService(engine, registry), TOKEN));
  const sock = join(dir, 'coordinator.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  for (let i = 0; i < 3; i++) {
    const name = `ovn-vhost-${i}`;
    const config = parseAgentConfig(['--vhost', name, '--hollow', '--listen', `unix:${join(dir, `${name}.sock`)}`, '--http', `unix:${join(dir, `${name}-http.sock`)}`, '--coordinator', `unix:${sock}`], { MERAK_TOKEN: TOKEN });
    if (config === 'help') throw new Error('unexpected');
    agents.push(await startAgent(config, createHollowBackend(), logger));
  }
  await waitUntil(() => registry.connected().length === 3, '3 agents registered');
});

afterAll(async () => {
  await engine?.shutdown();
  await noNb?.shutdown();
  for (const a of agents) await a.stop(1000);
  server?.forceShutdown();
  registry?.close();
  store?.close();
  await central?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SCENARIO = `
name: ovneng
provider: ovn
hosts: { count: 3 }
security_groups: [{ name: web, rules: [{ direction: ingress, protocol: tcp, port_range_min: 80 }] }]
vpcs:
  - name: vpc1
    cidr: 10.5.0.0/16
    subnets: [{ name: a, cidr: 10.5.0.0/24, vms: 12, security_groups: [web] }, { name: b, cidr: 10.5.1.0/24, vms: 6 }]
routers: [{ name: r1, vpc: vpc1, subnets: [a, b] }]
test: none
`;

describe('engine in OVN mode (hollow agents, real OVN central)', () => {
  it('writes every chunk before it is sent, reports the OVN split and NB transactions, and deletes it all', async () => {
    const created = engine.create(SCENARIO);
    await engine.settled(created.id);
    const s = engine.status(created.id)!;
    expect(s.phase).toBe('ready');
    expect(s.counts).toMatchObject({ requested: 18, ready: 18, failed: 0 });
    expect(rowsOfScenario(central, 'Logical_Switch_Port', created.id).filter((n) => n.includes('.vm.'))).toHaveLength(18);
    const r = s.report!;
    // 18 VMs on 3 hosts in chunks of 4: 2 chunks per host.
    const chunkWrites = r.controlPlane!.endpoints.find((e) => e.endpoint === 'NB write (VM ports of a chunk)')!;
    expect(chunkWrites).toMatchObject({ count: 6, errors: 0 });
    expect(r.ovn).toMatchObject({ vms: 18, nbWriteMs: { count: 18 } });
    expect(r.latencyMs.steps['nb-write']!.count).toBe(18);
    // The control plane's version as its northbound database tells it (the schema this central serves).
    const schema = JSON.parse(readFileSync(NB_SCHEMA, 'utf8')) as { version: string };
    expect(r.versions?.controlPlane).toEqual({ provider: 'ovn', version: `northbound schema ${schema.version}` });

    engine.delete(created.id);
    await engine.settled(created.id);
    expect(engine.status(created.id)!.phase).toBe('deleted');
    expect(nbRowsOf(central, created.id)).toEqual([]);
  });

  it('refuses an OVN scenario when no northbound database is known, naming ovn.nb', () => {
    let err: unknown;
    try {
      noNb.create(SCENARIO.replace('name: ovneng', 'name: ovnnonb'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioValidationError);
    expect((err as ScenarioValidationError).issues.map((i) => i.path)).toEqual(['ovn.nb']);
  });
});
