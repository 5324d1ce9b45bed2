// A vitest reporter that writes the run's summary (summary.ts) to the file named by
// MERAK_TEST_SUMMARY, for scripts/test.sh's closing line. Without that variable it does nothing.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, SerializedError, TestCase, TestModule, TestRunEndReason, TestSuite } from 'vitest/node';
import type { RunSummary, SuiteFailure, SuitePhase } from './summary.js';

const ran = (t: TestCase): boolean => {
  const state = t.result().state;
  return state === 'passed' || state === 'failed';
};
/** Meant to run (not .skip/.todo) but did not: its suite failed before it. */
const missed = (t: TestCase): boolean => (t.options.mode === 'run' || t.options.mode === 'only') && t.result().state === 'skipped';

function phaseOf(tests: readonly TestCase[]): SuitePhase {
  if (tests.length === 0) return 'load';
  return tests.some(ran) ? 'afterAll' : 'beforeAll';
}

const messageOf = (e: SerializedError): string => `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`;

export function summarize(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason, cwd = process.cwd()): RunSummary {
  let passed = 0;
  let failedTests = 0;
  let notRun = 0;
  const suiteFailures: SuiteFailure[] = [];
  for (const m of modules) {
    const file = relative(cwd, m.moduleId);
    const all = [...m.children.allTests()];
    passed += all.filter((t) => t.result().state === 'passed').length;
    failedTests += all.filter((t) => t.result().state === 'failed').length;
    const failedBlocks: Array<{ block: TestModule | TestSuite; tests: TestCase[] }> = [];
    if (m.errors().length > 0) failedBlocks.push({ block: m, tests: all });
    for (const s of m.children.allSuites()) if (s.errors().length > 0) failedBlocks.push({ block: s, tests: [...s.children.allTests()] });
    const missedTests = new Set<TestCase>();
    for (const { block, tests } of failedBlocks) {
      // One failure per failed block, whatever number of errors it has (its first says why).
      const phase = phaseOf(tests);
      suiteFailures.push({ file, ...(block.type === 'suite' ? { suite: block.fullName } : {}), phase, message: messageOf(block.errors()[0]!) });
      for (const t of tests) if (missed(t)) missedTests.add(t);
    }
    notRun += missedTests.size;
  }
  return { passed, failedTests, notRun, suiteFailures, unhandledErrors: unhandled.map(messageOf), interrupted: reason === 'interrupted' };
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const file = process.env.MERAK_TEST_SUMMARY;
    if (file) writeFileSync(file, JSON.stringify(summarize(modules, unhandled, reason)));
  }
}
