// `merak compare` as a user and a CI job run it (the built CLI): its help, its exit codes, and
// bad input refused naming the argument. Figures and verdicts: coordinator/report/compare.test.ts;
// real runs: test/e2e/compare.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { knownRun } from '../../coordinator/report/test-support/known-run.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'merak-compare-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function merak(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b; npm test does it)`);
  const r = spawnSync(process.execPath, [MAIN, ...args, '--local-dir', '/nonexistent/merak-cli-test'], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const a = knownRun();
mkdirSync(join(dir, 'run-a'));
writeFileSync(join(dir, 'run-a', 'report.json'), JSON.stringify(a));
const slower = JSON.parse(JSON.stringify(a)) as { latencyMs: { steps: Record<string, { p50: number; p90: number; p99: number }> } };
slower.latencyMs.steps.port = { ...slower.latencyMs.steps.port!, p50: 20.5, p90: 25, p99: 30 };
writeFileSync(join(dir, 'b.json'), JSON.stringify(slower));

describe('merak compare', () => {
  it('explains itself in --help: inputs, verdicts, the threshold and its default, exit codes', () => {
    const r = merak('compare', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^merak compare A B: two runs side by side/);
    expect(r.stdout).toMatch(/--threshold PCT +relative change within which a figure is the same \(default 60\)/);
    expect(r.stdout).toMatch(/--floor-ms MS +absolute change a latency must also exceed \(default 10\)/);
    expect(r.stdout).toContain('Exit code: 0 nothing worse, 1 something worse');
    expect(merak('--help').stdout).toMatch(/compare A B +two runs side by side/);
  });

  it('a report folder against itself: exit 0, and compare.json / compare.html written', () => {
    const r = merak('compare', 'run-a', 'run-a/report.json', '--out', 'out-same');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/B against A: 0 worse, 0 better/);
    expect(JSON.parse(readFileSync(join(dir, 'out-same', 'compare.json'), 'utf8'))).toMatchObject({ worse: 0, thresholds: { pct: 60, floorMs: 10 } });
    expect(readFileSync(join(dir, 'out-same', 'compare.html'), 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('a slower step: exit 1, the step named; --json prints the comparison', () => {
    const r = merak('compare', 'run-a/report.json', 'b.json', '--out', 'out-slow');
    expect(r.code).toBe(1);
    // 48 VMs: p50 judged; p90 and p99 have too few samples beyond them.
    expect(r.stdout).toMatch(/^worse: steps: port p50$/m);
    expect(r.stdout).toMatch(/port p99 \(ms\)\s+5\s+30\s+\+25\s+\+500\.0%\s+few samples/);
    // Looser than the change: nothing worse.
    expect(merak('compare', 'run-a/report.json', 'b.json', '--out', 'out-loose', '--floor-ms', '20').code).toBe(0);
    const j = merak('compare', 'run-a/report.json', 'b.json', '--out', 'out-json', '--json');
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as { worse: number }).worse).toBe(1);
  });

  it('refuses bad input with exit 2, naming the argument', () => {
    const cases: Array<[string[], string]> = [
      [['compare', 'run-a'], "merak: compare: needs two runs, A and B (got 1); see 'merak compare --help'"],
      [['compare', 'run-a', 'missing.json'], 'merak: B (missing.json): no such file or folder'],
      [['compare', 'run-a', 'b.json', '--threshold', 'ten'], "merak: --threshold: 'ten' is not a number in 0..1000"],
      [['compare', 'run-a', 'b.json', '--floor-ms=-1'], "merak: --floor-ms: '-1' is not a number in 0..3600000"],
      [['compare', 'run-a', '.'], 'merak: B (.): a folder without report.json'],
    ];
    for (const [args, message] of cases) {
      const r = merak(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(message);
    }
    writeFileSync(join(dir, 'not-report.json'), '{"scenario": {"id": "x"}}');
    const r = merak('compare', 'not-report.json', 'b.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('A (not-report.json): not a Merak report (scenario.name: missing or not a string)');
  });

  it('a scenario id needs a coordinator: said so, exit 2', () => {
    const r = merak('compare', 'abc123', 'b.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^merak: no --coordinator given and no local emulation is up/);
  });
});
