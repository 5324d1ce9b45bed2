// scripts/test.sh's closing line counts every failure: vitest runs small fixture files (a failing
// test, a describe whose beforeAll throws, a file whose import throws, an afterAll that throws)
// with the summary reporter, and the same CLI test.sh calls prints the line and picks the exit code.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { summaryLine } from './summary.js';

const repo = resolve(import.meta.dirname, '../..');
const fixtures = join(repo, 'test/summary/fixtures');
const work = mkdtempSync(join(tmpdir(), 'merak-summary-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Ran { code: number; stdout: string }

function runProgram(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((done) => {
    execFile(file, args, { cwd: repo, env, maxBuffer: 16 * 1024 * 1024 }, (e, stdout) => {
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : 1;
      done({ code, stdout });
    });
  });
}

let serial = 0;
/** vitest on the given fixture files, then test.sh's summary step; its line and exit code. */
async function summaryOf(files: string[]): Promise<{ line: string; code: number }> {
  const out = join(work, `summary-${serial++}.json`);
  const vitest = await runProgram(process.execPath, [
    join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--root', fixtures, '--config', join(fixtures, 'vitest.config.ts'),
    '--reporter=default', `--reporter=${join(repo, 'test/summary/reporter.ts')}`, ...files,
  ], { ...process.env, MERAK_TEST_SUMMARY: out });
  const summary = await runProgram(process.execPath, [join(repo, 'test/dist/summary/main.js'), out, String(vitest.code)]);
  return { line: summary.stdout.trim(), code: summary.code };
}

describe('the closing line of the test run', () => {
  test('a run where everything passes says 0 failed and exits 0 (a skipped test is no failure)', async () => {
    const r = await summaryOf(['passing.fx.ts']);
    expect(r.line).toBe('tests: 2 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  test('a describe whose beforeAll throws counts as failed, its tests as not run', async () => {
    const r = await summaryOf(['before-all-throws.fx.ts']);
    expect(r.line).toBe('tests: 1 passed, 1 failed (1 suite failed: test/summary/fixtures/before-all-throws.fx.ts > needs a daemon: beforeAll: the daemon did not start; 2 tests not run)');
    expect(r.code).not.toBe(0);
  });

  test('a file whose import throws counts as failed', async () => {
    const r = await summaryOf(['import-fails.fx.ts']);
    expect(r.line).toBe('tests: 0 passed, 1 failed (1 suite failed: test/summary/fixtures/import-fails.fx.ts: load: this module cannot be loaded)');
    expect(r.code).not.toBe(0);
  });

  test('an afterAll assertion counts as failed although its test passed', async () => {
    const r = await summaryOf(['after-all-throws.fx.ts']);
    expect(r.line).toMatch(/^tests: 1 passed, 1 failed \(1 suite failed: /);
    expect(r.line).toContain('test/summary/fixtures/after-all-throws.fx.ts: afterAll: AssertionError: expected \'3 namespaces left\' to be \'nothing left\'');
    expect(r.code).not.toBe(0);
  });

  test('all of them at once: each failed test and each failed suite is counted once', async () => {
    const r = await summaryOf([]);
    // passed: 2 + 1 (failing-test) + 1 (outside the describe) + 1 (before the afterAll) = 5
    // failed: 1 test + 3 suites (beforeAll, load, afterAll) = 4
    expect(r.line).toMatch(/^tests: 5 passed, 4 failed \(1 test failed; 3 suites failed: /);
    for (const part of ['needs a daemon: beforeAll', 'import-fails.fx.ts: load', 'after-all-throws.fx.ts: afterAll', '2 tests not run']) expect(r.line).toContain(part);
    expect(r.code).not.toBe(0);
  });

  test('no summary at all (vitest died before reporting) is one failure, not a pass', () => {
    expect(summaryLine(undefined, 1)).toBe('tests: 0 passed, 1 failed (no summary: vitest exited with code 1 before reporting)');
    const clean = { passed: 3, failedTests: 0, notRun: 0, suiteFailures: [], unhandledErrors: [], interrupted: false };
    expect(summaryLine(clean, 0)).toBe('tests: 3 passed, 0 failed');
    expect(summaryLine(clean, 1)).toBe('tests: 3 passed, 1 failed (vitest exited with code 1)');
    expect(summaryLine({ ...clean, unhandledErrors: ['Error: late'] }, 1)).toBe('tests: 3 passed, 1 failed (1 error outside tests: Error: late)');
  });
});
