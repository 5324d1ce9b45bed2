// The main job end to end, as `merak local up` + `merak run` + `merak local down` do it: real
// vhosts (namespaces on an underlay bridge, private OVS, agent processes), a real coordinator
// process, VMs checked with ip, pings from inside the VMs over VXLAN, reports on disk, and
// nothing of the prefix left afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import { runScenario } from '../../lab/cli/run-scenario.js';
import { Plan } from '../../coordinator/plan/index.js';
import { demoScenarioYaml, parseScenario } from '../../coordinator/scenario/index.js';
import { ipJson, linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('e');
const dir = mkdtempSync(join(tmpdir(), 'merak-e2e-'));
const out = join(dir, 'reports');
let up: LocalUp;
let client: CoordinatorClient;
const quiet = (): void => undefined;

beforeAll(async () => {
  up = await localUp({ dir: join(dir, 'local'), hosts: 5, prefix, log: quiet });
  client = connect({ localDir: join(dir, 'local') });
}, 180_000);

afterAll(async () => {
  client?.close();
  await localDown(join(dir, 'local'), quiet).catch(() => undefined);
  await sweepEmulation(join(dir, 'local', 'emulation'), prefix);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

interface ReportJson {
  vms: { requested: number; ready: number; failed: number };
  ping: { pairsPassed: number; pairsFailed: number; isolationPassed: number; isolationFailed: number; crossHostPairs: number };
}

describe('local emulation, end to end', () => {
  const hosts = (): string[] => up.emulation.vhosts.map((v) => v.name);

  it("runs Merak's e2e (5 hosts x 10 VMs), every pair pings from inside the VMs, and writes the report", async () => {
    const name = `${prefix}-e2e`;
    const text = demoScenarioYaml().replace('name: merak-e2e', `name: ${name}`);
    const run = await runScenario(client, text, { out, format: 'yaml', log: quiet, progress: false });
    expect(run.scenario.error).toBe('');
    expect(run.ok).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReportJson;
    expect(report.vms).toMatchObject({ requested: 50, ready: 50, failed: 0 });
    expect(report.ping).toMatchObject({ pairsPassed: 50 * 49, pairsFailed: 0, crossHostPairs: 50 * 40 });
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/^<!doctype html>[^]*<svg/);
    // Every VM as the plan says, seen by ip: its namespace, its address, on the vhost it was placed on.
    const plan = new Plan(parseScenario(text), hosts(), '1');
    const namespaces = namespacesWithPrefix(name);
    expect(namespaces).toHaveLength(50);
    for (let i = 0; i < plan.total; i++) {
      const vm = plan.vm(i);
      const eth0 = ipJson<Array<{ addr_info: Array<{ family: string; local: string }>; mtu: number; link_netnsid?: number }>>(vm.name, 'addr', 'show', 'dev', 'eth0')[0]!;
      expect(eth0.addr_info.find((a) => a.family === 'inet')?.local).toBe(vm.ip);
      expect(eth0.mtu).toBe(1450);
      expect(ipJson<Array<{ ifname: string }>>(vm.host, 'link', 'show', 'dev', vm.portName)).toHaveLength(1);
    }
    // A user's own ping across vhosts works too.
    expect(() => execFileSync('ip', ['netns', 'exec', plan.vm(0).name, 'ping', '-c', '1', '-W', '3', plan.vm(1).ip])).not.toThrow();
    await client.deleteScenario(run.scenario.id);
    await client.watch(run.scenario.id, () => undefined);
    expect((await client.getScenario(run.scenario.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    expect(namespacesWithPrefix(name)).toEqual([]);
  }, 300_000);

  it('runs a scenario again under its name, as a second demo does: the earlier run is deleted first, the new one is ready', async () => {
    const name = `${prefix}-again`;
    const text = demoScenarioYaml({ hosts: 5, vms: 10 }).replace('name: merak-e2e', `name: ${name}`);
    const first = await runScenario(client, text, { out, format: 'yaml', log: quiet, progress: false, replaces: name });
    expect(first.ok).toBe(true);
    const lines: string[] = [];
    const second = await runScenario(client, text, { out, format: 'yaml', log: (l) => lines.push(l), progress: false, replaces: name });
    expect(second.ok).toBe(true);
    expect(second.scenario.id).not.toBe(first.scenario.id);
    expect(lines.some((l) => l.includes(`deleting scenario ${name} (${first.scenario.id})`))).toBe(true);
    expect((await client.getScenario(first.scenario.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    expect(namespacesWithPrefix(name)).toHaveLength(10);
    await client.deleteScenario(second.scenario.id);
    await client.watch(second.scenario.id, () => undefined);
    expect(namespacesWithPrefix(name)).toEqual([]);
  }, 300_000);

  it('keeps VPCs apart: the same addresses in two VPCs, each VM reaching only its own VPC', async () => {
    const name = `${prefix}-iso`;
    const text = `
name: ${name}
hosts: { count: 5 }
vpcs:
  - { name: blue, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.1.0/24, vms: 8 }, { name: b, cidr: 10.1.2.0/24, vms: 4 }] }
  - { name: green, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.1.0/24, vms: 10 }] }
placement: { type: random }
test: { type: ping, cross_vpc_checks: 30 }
`;
    const run = await runScenario(client, text, { out: join(out, 'iso'), log: quiet, progress: false });
    const report = JSON.parse(readFileSync(join(out, 'iso', 'report.json'), 'utf8')) as ReportJson;
    expect(run.scenario.error).toBe('');
    // Within each VPC every ordered pair, across subnets too (blue's two subnets are one broadcast domain).
    expect(report.ping).toMatchObject({ pairsPassed: 12 * 11 + 10 * 9, pairsFailed: 0, isolationPassed: 30, isolationFailed: 0 });
    // The same IP exists in both VPCs.
    const plan = new Plan(parseScenario(text), hosts(), '1');
    const ips = (vpc: string): string[] => Array.from({ length: plan.total }, (_, i) => plan.vm(i)).filter((v) => v.vpc === vpc).map((v) => v.ip);
    expect(ips('blue').filter((ip) => ips('green').includes(ip)).length).toBeGreaterThan(0);
    await client.deleteScenario(run.scenario.id);
    await client.watch(run.scenario.id, () => undefined);
  }, 300_000);

  it('notices an agent killed mid-plan, keeps its VMs waiting, and finishes them when it is back', async () => {
    const name = `${prefix}-kill`;
    const created = await client.createScenario(`
name: ${name}
hosts: { count: 5 }
vpcs: [{ name: vpc1, cidr: 10.2.0.0/16, subnets: [{ name: s, cidr: 10.2.0.0/16, vms: 40 }] }]
schedule: { type: rps, rate: 10 }
test: { type: ping, pairs_per_vpc_limit: 2, sample_pairs: 40 }
`, 'yaml');
    const victim = up.emulation.vhosts[2]!;
    const until = async (what: string, ok: (s: coordinatorV1.Scenario) => boolean, ms = 60_000): Promise<coordinatorV1.Scenario> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const s = await client.getScenario(created.id);
        if (ok(s)) return s;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${JSON.stringify(s.vms)})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until('some VMs', (s) => (s.vms?.ready ?? 0) >= 8);
    await victim.killAgent();
    const during = await until('the lost agent', (s) => s.lostHosts.includes(victim.name) && (s.vms?.waiting ?? 0) > 0);
    expect(during.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING);
    await victim.restartAgent();
    const done = await until('the scenario to settle', (s) => s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY || s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED, 120_000);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 40, ready: 40, failed: 0, waiting: 0 });
    expect(done.lostHosts).toEqual([]);
    // The restarted agent holds exactly its share, each VM once and complete.
    const { vms } = await victim.client.listVms();
    const mine = vms.filter((v) => v.name.startsWith(`${name}-`));
    expect(mine).toHaveLength(8);
    expect(mine.every((v) => v.complete)).toBe(true);
    await client.deleteScenario(created.id);
    await client.watch(created.id, () => undefined);
  }, 300_000);

  it('local down leaves nothing of the emulation on the machine', async () => {
    const report = await localDown(join(dir, 'local'), quiet);
    expect(report.failed).toEqual([]);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(join(dir, 'local'))).toEqual([]);
    expect(existsSync(join(dir, 'local'))).toBe(false);
  }, 120_000);
});
