// `merak local up --metrics-port BASE`, with real processes: the supervisor relays each process's
// /metrics (served on unix sockets, the agents' inside their vhosts' namespaces) to 127.0.0.1, the
// coordinator's on BASE and vhost i's agent's on BASE+1+i, writes a prometheus.yml listing them,
// keeps relaying to an agent its supervisor started again, and a later `local up` keeps the port;
// examples/prometheus-local.yml follows the same rule.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import { readState } from '../../lab/local/emulation-state.js';
import { PROMETHEUS_FILE } from '../../lab/local/metrics-relay.js';
import { isRunning, signalRecorded } from '../../lab/local/process-record.js';
import { requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('m');
const dir = mkdtempSync(join(tmpdir(), 'merak-metrics-'));
const local = join(dir, 'local');
const quiet = (): void => undefined;
// A base in the dynamic range, random so that runs at once on one machine do not meet.
const base = 40000 + Math.floor(Math.random() * 20000);
let up: LocalUp;

function scrape(port: number): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

interface Prometheus { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> }
const targetsOf = (text: string): Record<string, string[]> =>
  Object.fromEntries((parseYaml(text) as Prometheus).scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));

beforeAll(async () => {
  up = await localUp({ dir: local, hosts: 2, prefix, log: quiet, metricsPort: base });
}, 180_000);

afterAll(async () => {
  await localDown(local, quiet).catch(() => undefined);
  await sweepEmulation(join(local, 'emulation'), prefix);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('local up --metrics-port', () => {
  it("serves the coordinator's /metrics on BASE and each agent's on BASE+1+i, and writes a prometheus.yml listing them", async () => {
    const coordinator = await scrape(base);
    expect(coordinator.code).toBe(200);
    expect(coordinator.body).toMatch(/^merak_coordinator_agents_connected 2$/m);
    for (const [i, v] of up.emulation.vhosts.entries()) {
      const agent = await scrape(base + 1 + i);
      expect(agent.code).toBe(200);
      expect(agent.body).toContain(`merak_agent_vms_present{vhost="${v.name}"}`);
    }
    expect(targetsOf(readFileSync(join(local, PROMETHEUS_FILE), 'utf8'))).toEqual({
      'merak-coordinator': [`127.0.0.1:${base}`],
      'merak-agents': [`127.0.0.1:${base + 1}`, `127.0.0.1:${base + 2}`],
    });
  });

  it('relays to an agent its supervisor started again, and a later local up keeps the port', async () => {
    const agent = readState(join(local, 'emulation'))!.vhosts[1]!.processes.agent!;
    expect(signalRecorded(agent, 'SIGKILL')).toBe(true);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = readState(join(local, 'emulation'))!.vhosts[1]!.processes.agent!;
      const r = now.pid !== agent.pid && isRunning(now) ? await scrape(base + 2).catch(() => undefined) : undefined;
      if (r?.code === 200 && r.body.includes(`vhost="${up.emulation.vhosts[1]!.name}"`)) break;
      if (Date.now() > deadline) throw new Error('the restarted agent was not scraped through the relay within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const again = await localUp({ dir: local, hosts: 2, prefix, log: quiet, metricsPort: base });
    expect(again.record.settings.metricsPort).toBe(base);
    expect((await scrape(base)).code).toBe(200);
  }, 120_000);

  it('examples/prometheus-local.yml is the file for --hosts 5 --metrics-port 19100', () => {
    const example = targetsOf(readFileSync(new URL('../../examples/prometheus-local.yml', import.meta.url), 'utf8'));
    expect(example).toEqual({ 'merak-coordinator': ['127.0.0.1:19100'], 'merak-agents': [19101, 19102, 19103, 19104, 19105].map((p) => `127.0.0.1:${p}`) });
  });
});
