// The coordinator killed with SIGKILL in the middle of a scenario and started again over the same
// store: the scenario completes, nothing lost, nothing made twice. Real processes: the coordinator
// (coordinator/dist/main.js) and three hollow agents (agent/dist/main.js --hollow), over unix sockets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../coordinator/cli/coordinator-client.js';
import { type AgentProcess, startAgentProcess } from '../../coordinator/local/agent-process.js';
import { type CoordinatorProcess, startCoordinatorProcess } from '../../coordinator/local/coordinator-process.js';

let dir = '';
let coordinator: CoordinatorProcess | undefined;
const agents: AgentProcess[] = [];
const token = 'restart-test-token';

const startCoordinator = (): Promise<CoordinatorProcess> =>
  startCoordinatorProcess({
    listen: `unix:${join(dir, 'c.sock')}`, http: `unix:${join(dir, 'c-http.sock')}`, state: join(dir, 'state.db'),
    tokenFile: join(dir, 'token'), logFile: join(dir, 'coordinator.log'),
  });

/** A Prometheus sample of an agent's /metrics (over its HTTP unix socket). */
function metric(socket: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ socketPath: socket, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        const line = body.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
        resolve(line ? Number(line.split(' ').at(-1)) : NaN);
      });
    }).on('error', reject).end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-restart-'));
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  coordinator = await startCoordinator();
  for (let i = 0; i < 3; i++) {
    agents.push(await startAgentProcess({
      logFile: join(dir, `agent-${i}.log`),
      args: ['--vhost', `hv-${i}`, '--hollow', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`,
        '--coordinator', `unix:${join(dir, 'c.sock')}`, '--token-file', join(dir, 'token')],
    }));
  }
}, 60_000);

afterAll(async () => {
  await coordinator?.stop();
  for (const a of agents) await a.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a scenario of `vms` VMs at 100 per second on the 3 agents; resolves once `readyAtLeast` are ready. */
async function startScenario(client: CoordinatorClient, name: string, cidr: string, vms: number, readyAtLeast: number): Promise<coordinatorV1.Scenario> {
  await until('3 agents', async () => ((await client.listAgents()).agents.filter((a) => a.connected).length === 3 ? true : undefined));
  const created = await client.createScenario(`
name: ${name}
hosts: { count: 3 }
vpcs: [{ name: vpc1, cidr: ${cidr}, subnets: [{ name: s1, cidr: ${cidr}, vms: ${vms} }] }]
schedule: { type: rps, rate: 100 }
test: none
`, 'yaml');
  await until('some VMs ready', async () => ((await client.getScenario(created.id)).vms!.ready >= readyAtLeast ? true : undefined));
  return created;
}

/** Waits, on a coordinator started again, until the scenario is ready or failed. */
function settledAfterRestart(client: CoordinatorClient, id: string): Promise<coordinatorV1.Scenario> {
  return until('the scenario to settle', async () => {
    const s = await client.getScenario(id);
    return s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY || s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED ? s : undefined;
  }, 60_000);
}

describe('coordinator restart', () => {
  it('completes a scenario after a SIGKILL mid-way, with every VM made exactly once', async () => {
    const client = new CoordinatorClient(`unix:${join(dir, 'c.sock')}`, token);
    // 300 VMs at 100 per second: 3 s of work; killed after about 1 s.
    const created = await startScenario(client, 'restart', '10.1.0.0/16', 300, 60);
    client.close();
    await coordinator!.kill();
    const atKill = (await Promise.all(agents.map((_, i) => metric(join(dir, `h${i}.sock`), 'merak_agent_vms_created_total')))).reduce((a, b) => a + b, 0);
    expect(atKill).toBeGreaterThanOrEqual(60);
    expect(atKill).toBeLessThan(300);

    coordinator = await startCoordinator();
    const again = new CoordinatorClient(`unix:${join(dir, 'c.sock')}`, token);
    const done = await settledAfterRestart(again, created.id);
    expect(done.error).toBe('');
    expect(done.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY);
    expect(done.vms).toMatchObject({ requested: 300, ready: 300, failed: 0, pending: 0 });
    // Nothing made twice: the agents made 300 VMs in all, and hold 300.
    const made = await Promise.all(agents.map((_, i) => metric(join(dir, `h${i}.sock`), 'merak_agent_vms_created_total')));
    const present = await Promise.all(agents.map((_, i) => metric(join(dir, `h${i}.sock`), 'merak_agent_vms_present')));
    expect(made.reduce((a, b) => a + b, 0)).toBe(300);
    expect(present).toEqual([100, 100, 100]);
    // The report covers every VM, those before the kill included.
    const report = JSON.parse((await again.getReport(created.id)).json) as { vms: { ready: number }; latencyMs: { endToEnd: { count: number } } };
    expect(report.vms.ready).toBe(300);
    expect(report.latencyMs.endToEnd.count).toBe(300);
    again.close();
  }, 120_000);

  it('stops cleanly on SIGTERM mid-scenario (exit 0, nothing marked failed) and resumes at the next start', async () => {
    const client = new CoordinatorClient(`unix:${join(dir, 'c.sock')}`, token);
    const created = await startScenario(client, 'graceful', '10.2.0.0/16', 150, 30);
    client.close();
    const t0 = Date.now();
    await coordinator!.stop();
    expect(await coordinator!.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(readFileSync(join(dir, 'coordinator.log'), 'utf8')).not.toMatch(/"msg":"scenario failed"/);
    coordinator = await startCoordinator();
    const again = new CoordinatorClient(`unix:${join(dir, 'c.sock')}`, token);
    const done = await settledAfterRestart(again, created.id);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 150, ready: 150, failed: 0 });
    again.close();
  }, 120_000);
});
