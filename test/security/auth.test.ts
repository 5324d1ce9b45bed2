// The bearer token on the streaming calls, with the real binaries over unix sockets: Register,
// WatchScenario (the coordinator's) and Apply (the agent's) without the token or with a wrong one
// end UNAUTHENTICATED and leave nothing behind; nobody takes a registered vhost's name without the
// token; with it, the newer registration wins and the older agent stops (docs/security.md).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, type ServiceError, credentials, status } from '@grpc/grpc-js';
import { agentV1, coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../lab/agent-client/agent-client.js';
import { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { waitFor } from '../fixtures/processes.js';
import { AGENT_MAIN, COORDINATOR_MAIN, Spawned, httpGet } from './harness.js';

const TOKEN = 'auth-test-token-0123456789';
let dir = '';
let coordinator: Spawned | undefined;
const agents: Spawned[] = [];
let client: CoordinatorClient | undefined;

const sock = (name: string): string => join(dir, name);
const bearer = (token: string | undefined): Metadata => {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return md;
};
const CASES = [['no token', undefined], ['a wrong token', 'not-the-token']] as const;

function startAgent(name: string, vhost: string, register = true): Spawned {
  const a = new Spawned(join(dir, `${name}.log`), AGENT_MAIN, ['--vhost', vhost, '--hollow', '--listen', `unix:${sock(`${name}.sock`)}`,
    '--http', `unix:${sock(`${name}-http.sock`)}`, '--token-file', join(dir, 'token'), ...(register ? ['--coordinator', `unix:${sock('c.sock')}`] : [])]);
  agents.push(a);
  return a;
}

/** The registered agent named `name`, once it is connected with `address`. */
async function connectedAs(name: string, address: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const a = (await client!.listAgents()).agents.find((x) => x.info?.name === name);
    if (a?.connected && a.info?.address === address) return;
    if (Date.now() > deadline) throw new Error(`${name} never connected as ${address}: ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens a Register stream with `md`, says hello as `name`; resolves with how the stream ended. */
function register(md: Metadata, name: string, address: string): Promise<{ error: ServiceError | undefined; messages: number }> {
  const raw = new coordinatorV1.CoordinatorClient(`unix:${sock('c.sock')}`, credentials.createInsecure());
  return new Promise((resolve) => {
    let messages = 0;
    const stream = raw.register(md);
    const done = (error: ServiceError | undefined): void => {
      raw.close();
      resolve({ error, messages });
    };
    stream.on('data', () => messages++);
    stream.on('error', (e: ServiceError) => done(e));
    stream.on('end', () => done(undefined));
    stream.write({ body: { $case: 'hello', value: coordinatorV1.AgentInfo.fromPartial({ name, address, version: '0.1.0', capacity: 10, hollow: true }) } });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-auth-'));
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  coordinator = new Spawned(join(dir, 'coordinator.log'), COORDINATOR_MAIN, ['--listen', `unix:${sock('c.sock')}`, '--http', `unix:${sock('c-http.sock')}`,
    '--state', join(dir, 'state.db'), '--token-file', join(dir, 'token')]);
  await coordinator.waitLine('coordinator ready');
  client = new CoordinatorClient(`unix:${sock('c.sock')}`, TOKEN);
  // hv-1: the vhost the scenarios run on, and whose name others try to take.
  startAgent('first', 'hv-1');
  await connectedAs('hv-1', `unix:${sock('first.sock')}`);
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const a of agents) await a.stop();
  await coordinator?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the coordinator refuses streams without the token', () => {
  it.each(CASES)('Register with %s: UNAUTHENTICATED, not a word back, no agent registered', async (_, token) => {
    const { error, messages } = await register(bearer(token), 'intruder', 'unix:/nowhere');
    expect(error?.code).toBe(status.UNAUTHENTICATED);
    expect(messages).toBe(0);
    expect((await client!.listAgents()).agents.map((a) => a.info?.name)).not.toContain('intruder');
  });

  it.each(CASES)('WatchScenario and CreateScenario with %s: UNAUTHENTICATED, no event, nothing created', async (_, token) => {
    const before = (await client!.listScenarios()).scenarios.length;
    const raw = new coordinatorV1.CoordinatorClient(`unix:${sock('c.sock')}`, credentials.createInsecure());
    try {
      const created = await new Promise<ServiceError | null>((resolve) =>
        raw.createScenario({ text: 'name: sneaky\nhosts: { count: 1 }\nvpcs: [{ name: v, cidr: 10.1.0.0/24, subnets: [{ name: s, cidr: 10.1.0.0/24, vms: 1 }] }]\n', format: 'yaml' }, bearer(token), (e) => resolve(e)));
      expect(created?.code).toBe(status.UNAUTHENTICATED);
      expect((await client!.listScenarios()).scenarios.length).toBe(before);
      // A scenario that exists (made with the token), so a refusal cannot be a NOT_FOUND.
      const real = await client!.createScenario('name: watched\nhosts: { count: 1 }\nvpcs: [{ name: v, cidr: 10.2.0.0/24, subnets: [{ name: s, cidr: 10.2.0.0/24, vms: 1 }] }]\ntest: none\n', 'yaml');
      const watched = await new Promise<{ error: ServiceError | undefined; events: number }>((resolve) => {
        let events = 0;
        const w = raw.watchScenario({ id: real.id }, bearer(token));
        w.on('data', () => events++);
        w.on('error', (e: ServiceError) => resolve({ error: e, events }));
        w.on('end', () => resolve({ error: undefined, events }));
      });
      expect(watched.error?.code).toBe(status.UNAUTHENTICATED);
      expect(watched.events).toBe(0);
      await client!.deleteScenario(real.id);
    } finally {
      raw.close();
    }
  });
});

describe("the agent refuses Apply without the token", () => {
  it.each(CASES)('Apply with %s: UNAUTHENTICATED, no VM made', async (_, token) => {
    const a = startAgent(`apply-${token ?? 'none'}`, `apply-${token === undefined ? 'a' : 'b'}`, false);
    await a.waitLine('agent ready');
    const address = `unix:${a.logFile.replace(/\.log$/, '.sock')}`;
    const raw = new agentV1.AgentClient(address, credentials.createInsecure());
    const owner = new AgentClient(address, { token: TOKEN });
    try {
      const spec = agentV1.VmSpec.fromPartial({ id: 'vm-1', name: 'auth-vm-1', ip: '10.3.0.2', prefixLength: 24, gateway: '10.3.0.1', mac: '02:00:00:00:00:02' });
      const result = await new Promise<{ error: ServiceError | undefined; results: number }>((resolve) => {
        let results = 0;
        const s = raw.apply({ operations: [{ op: { $case: 'create', value: spec }, startOffsetMs: 0 }], concurrency: 1, startAtUnixMs: 0 }, bearer(token));
        s.on('data', (m: agentV1.ApplyResponse) => (results += m.results.length));
        s.on('error', (e: ServiceError) => resolve({ error: e, results }));
        s.on('end', () => resolve({ error: undefined, results }));
      });
      expect(result.error?.code).toBe(status.UNAUTHENTICATED);
      expect(result.results).toBe(0);
      expect((await owner.listVms()).vms).toEqual([]);
    } finally {
      raw.close();
      owner.close();
      await a.stop();
    }
  });
});

describe("a registered vhost's stream", () => {
  it('cannot be taken over without the token: the registered agent keeps its name and its calls', async () => {
    const first = agents.find((a) => a.logFile.endsWith('first.log'))!;
    const firstAddress = `unix:${sock('first.sock')}`;
    await connectedAs('hv-1', firstAddress);
    for (const [, token] of CASES) {
      const { error } = await register(bearer(token), 'hv-1', 'unix:/impostor');
      expect(error?.code).toBe(status.UNAUTHENTICATED);
    }
    await connectedAs('hv-1', firstAddress);
    expect((await httpGet(sock('first-http.sock'), '/readyz')).status).toBe(200);
    // The coordinator still sends hv-1's work to the first agent.
    const s = await client!.createScenario('name: kept\nhosts: { count: 1 }\nvpcs: [{ name: v, cidr: 10.4.0.0/24, subnets: [{ name: s, cidr: 10.4.0.0/24, vms: 3 }] }]\ntest: none\n', 'yaml');
    await new Promise<void>((resolve, reject) => client!.watch(s.id, () => undefined).then(resolve, reject));
    expect((await client!.getScenario(s.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    const owner = new AgentClient(firstAddress, { token: TOKEN });
    try {
      expect((await owner.listVms()).vms).toHaveLength(3);
    } finally {
      owner.close();
    }
    expect(first.exitCode).toBeNull();
  });

  it('with the token, a newer registration (a restarted agent) takes the name; the older agent stops and says why', async () => {
    const first = agents.find((a) => a.logFile.endsWith('first.log'))!;
    startAgent('second', 'hv-1');
    await connectedAs('hv-1', `unix:${sock('second.sock')}`);
    // The displaced agent is not ready, says why, and does not take the name back.
    await waitFor(() => first.log().includes('another agent registered as vhost hv-1'), 10_000, `the first agent to say it was replaced:\n${first.log()}`);
    const ready = await httpGet(sock('first-http.sock'), '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('another agent registered as vhost hv-1');
    expect(coordinator!.line('agent registered again on another stream: the older stream is ended')).toMatchObject({ agent: 'hv-1' });
    await new Promise((r) => setTimeout(r, 1500));
    await connectedAs('hv-1', `unix:${sock('second.sock')}`);
    expect((await httpGet(sock('second-http.sock'), '/readyz')).status).toBe(200);
  });
});
