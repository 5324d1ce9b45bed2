// `merak compare` on real runs of the local emulation in Alcor mode (the Alcor-compatible server
// here, --host-access): the same scenario and seed three times, the third with a control-plane
// delay injected through the coordinator's fault proxy. Compared as a CI job would, with the
// built CLI on the report.json files: the two plain runs show no regression beyond the default
// threshold (exit 0); the delayed run's slower steps are flagged and the exit code is 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coordinatorV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import type { Comparison } from '../../coordinator/report/compare.js';
import type { Report } from '../../coordinator/report/report.js';
import { useAlcorEmulation } from '../fixtures/alcor-emulation.js';
import { requireRoot } from '../fixtures/local-emulation.js';
import { dumpDom, screenshot } from '../report/chromium.js';

requireRoot();
const MAIN = fileURLToPath(new URL('../../lab/dist/cli/main.js', import.meta.url));
/** Kept after the test (ignored by git): each comparison's compare.txt, compare.json and compare.html. */
const KEPT = fileURLToPath(new URL('../../merak-report/compare-e2e/', import.meta.url));
const emu = useAlcorEmulation({ letter: 'k', seed: 3, dirName: 'merak-compare-e2e-' });

/**
 * 30 VMs on 3 vhosts in Alcor mode, seed 7, 10 a second (so a VM's steps time its own calls, not
 * a queue behind the others), a ping test; `fault` adds one.
 */
const scenario = (name: string, fault?: string): string => `
name: ${emu.prefix}-${name}
seed: 7
provider: alcor
alcor:
  endpoints: { vpc: ${emu.alcor.urls.vpc}, subnet: ${emu.alcor.urls.subnet}, route: ${emu.alcor.urls.route}, port: ${emu.alcor.urls.port}, node: ${emu.alcor.urls.node}, sg: ${emu.alcor.urls.sg} }
  project_id: proj-${emu.prefix}-${name}
hosts: { count: 3 }
schedule: { type: rps, rate: 10 }
vpcs: [{ name: vpc1, cidr: 10.9.0.0/16, subnets: [{ name: s, cidr: 10.9.0.0/16, gateway: 10.9.0.1, vms: 30 }] }]
test: { type: ping, sample_pairs: 200 }
${fault ? `faults:\n  - ${fault}\n` : ''}`;

/** Runs `text` to its end, writes its report.json to its own folder, deletes it; the folder. */
async function run(name: string, text: string): Promise<string> {
  const created = await emu.client.createScenario(text, 'yaml');
  await emu.client.watch(created.id, () => undefined);
  const s = await emu.client.getScenario(created.id);
  expect(s.error, name).toBe('');
  expect(s.vms, name).toMatchObject({ requested: 30, ready: 30, failed: 0 });
  const out = join(emu.dir, name);
  mkdirSync(out, { recursive: true });
  const report = await emu.client.getReport(created.id);
  writeFileSync(join(out, 'report.json'), report.json);
  writeFileSync(join(out, 'report.html'), report.html);
  await emu.client.deleteScenario(created.id);
  await emu.client.watch(created.id, () => undefined);
  expect((await emu.client.getScenario(created.id)).phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
  return out;
}

function compare(a: string, b: string): { code: number | null; text: string; comparison: Comparison } {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b)`);
  const out = join(KEPT, `${a.split('/').at(-1)}-${b.split('/').at(-1)}`);
  const r = spawnSync(process.execPath, [MAIN, 'compare', a, b, '--out', out, '--local-dir', '/nonexistent/merak-compare-test'], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  writeFileSync(join(out, 'compare.txt'), r.stdout);
  return { code: r.status, text: r.stdout, comparison: JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as Comparison };
}

describe('merak compare on real runs', () => {
  let plain: string;
  let again: string;
  let delayed: string;

  it('runs the scenario twice as it is and once with every control-plane call delayed 150 ms', async () => {
    // The first run on a fresh emulation pays for what starts cold (measured 1.5-2x slower at
    // every step): a warm-up run first, as a CI job comparing versions would do too.
    await run('warm-up', scenario('warm-up'));
    plain = await run('plain', scenario('plain'));
    again = await run('again', scenario('again'));
    delayed = await run('delayed', scenario('delayed', '{ kind: control-plane-delay, at_s: 0, for_s: 4, delay_ms: 150 }'));
    const d = JSON.parse(readFileSync(join(delayed, 'report.json'), 'utf8')) as Report;
    expect(d.faults?.[0]).toMatchObject({ kind: 'control-plane-delay' });
    // The software that ran it, as each part said: the agents' OVS version came with their registration.
    expect(d.versions?.agents).toEqual([{ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), ovsVersion: expect.stringMatching(/^\d+\.\d+/), vhosts: 3 }]);
    expect(d.versions?.controlPlane).toEqual({ provider: 'alcor', version: '' });
  }, 300_000);

  it("a real run's report.html renders in headless Chromium with no error, every chart there (report.png kept)", async () => {
    const page = join(plain, 'report.html');
    const html = readFileSync(page, 'utf8');
    const { stdout: dom, pageErrors } = await dumpDom(page);
    expect(pageErrors).toEqual([]);
    const charts = html.match(/<svg class="chart"/g)?.length ?? 0;
    // Histogram, ready over time, stacked steps, step CDFs, end-to-end CDF, first-reply CDF.
    expect(charts).toBe(6);
    expect(dom.match(/<svg class="chart"/g)).toHaveLength(charts);
    const kept = join(KEPT, 'plain');
    mkdirSync(kept, { recursive: true });
    for (const f of ['report.json', 'report.html']) writeFileSync(join(kept, f), readFileSync(join(plain, f)));
    expect((await screenshot(join(kept, 'report.html'), join(kept, 'report.png'), 1100, 6000)).pageErrors).toEqual([]);
    expect(existsSync(join(kept, 'report.png'))).toBe(true);
  });

  it('two identical-seed runs: no regression beyond the threshold, exit 0', () => {
    const { code, text, comparison } = compare(plain, again);
    expect(comparison.worse, text).toBe(0);
    expect(code).toBe(0);
    // Every figure was there to compare: each step's p50 judged (30 VMs: too few for p90 and p99), Alcor's endpoints, the ping test.
    const steps = comparison.rows.filter((r) => r.section === 'steps' && r.figure.endsWith(' p50'));
    expect(steps.map((r) => r.figure)).toEqual(expect.arrayContaining(['allocate p50', 'bind p50', 'goalstate p50', 'namespace p50']));
    expect(steps.every((r) => r.verdict === 'same' || r.verdict === 'better'), text).toBe(true);
    expect(comparison.rows.some((r) => r.section === 'control plane' && r.verdict === 'same')).toBe(true);
    expect(comparison.rows.find((r) => r.figure === 'pairs failed')).toMatchObject({ a: 0, b: 0, verdict: 'same' });
  });

  it('the delayed run against the plain one: its slower steps are flagged, exit 1', () => {
    const { code, text, comparison } = compare(plain, delayed);
    expect(code).toBe(1);
    const worse = comparison.rows.filter((r) => r.verdict === 'worse').map((r) => `${r.section}: ${r.figure}`);
    // The agents' calls to Alcor (allocate: POST port, bind: PUT port) went through the proxy's delay.
    expect(worse, text).toEqual(expect.arrayContaining(['steps: allocate p50', 'steps: bind p50']));
    const bind = comparison.rows.find((r) => r.figure === 'bind p50')!;
    expect(bind.diff!, text).toBeGreaterThan(100);
    expect(text).toMatch(/^worse: .*steps: bind p50/m);
  });
});
