// The closing line of scripts/test.sh: "tests: N passed, N failed (...)". Every failure counts: a
// failed test, a suite whose beforeAll/afterAll threw, a file that failed to load, an error thrown
// outside any test, an interrupted run. Vitest's JSON report loses some of these (a describe's hook
// error has no message there, unhandled errors are absent), so the reporter (reporter.ts) writes
// this summary from vitest's own result objects instead.

export type SuitePhase = 'load' | 'beforeAll' | 'afterAll';

export interface SuiteFailure {
  /** The test file, relative to where vitest ran. */
  readonly file: string;
  /** The describe block's full name; absent for the file itself. */
  readonly suite?: string;
  /** When it failed, inferred: no test collected = load, none ran = beforeAll, some ran = afterAll. */
  readonly phase: SuitePhase;
  readonly message: string;
}

export interface RunSummary {
  readonly passed: number;
  readonly failedTests: number;
  /** Tests that were to run but did not, because their suite failed first. */
  readonly notRun: number;
  readonly suiteFailures: readonly SuiteFailure[];
  /** Errors thrown outside any test (a timer's throw after its test ended, a crashed worker). */
  readonly unhandledErrors: readonly string[];
  readonly interrupted: boolean;
}

export class SummaryFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SummaryFormatError';
  }
}

const MAX_LISTED = 5;

/** The first line of an error message, short enough for one summary line. */
export function firstLine(message: string): string {
  const line = message.trim().split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** How many failures the line reports: each failed test, suite, unhandled error, an interruption. */
export function failureCount(s: RunSummary): number {
  return s.failedTests + s.suiteFailures.length + s.unhandledErrors.length + (s.interrupted ? 1 : 0);
}

/**
 * The closing line. `vitestExit` is vitest's exit code: a non-zero code with nothing failed
 * in the summary (e.g. a config that did not load) still counts as one failure.
 */
export function summaryLine(s: RunSummary | undefined, vitestExit: number): string {
  if (s === undefined) return `tests: 0 passed, 1 failed (no summary: vitest exited with code ${vitestExit} before reporting)`;
  const parts: string[] = [];
  let failed = failureCount(s);
  if (s.suiteFailures.length > 0) {
    const listed = s.suiteFailures.slice(0, MAX_LISTED).map((f) => `${f.file}${f.suite ? ` > ${f.suite}` : ''}: ${f.phase}: ${firstLine(f.message)}`);
    const more = s.suiteFailures.length > MAX_LISTED ? `; and ${s.suiteFailures.length - MAX_LISTED} more` : '';
    parts.push(`${plural(s.suiteFailures.length, 'suite')} failed: ${listed.join('; ')}${more}`);
  }
  if (s.unhandledErrors.length > 0) {
    parts.push(`${plural(s.unhandledErrors.length, 'error')} outside tests: ${s.unhandledErrors.slice(0, MAX_LISTED).map(firstLine).join('; ')}`);
  }
  if (s.interrupted) parts.push('the run was interrupted');
  if (failed === 0 && vitestExit !== 0) {
    failed = 1;
    parts.push(`vitest exited with code ${vitestExit}`);
  }
  if (parts.length > 0 && s.failedTests > 0) parts.unshift(`${plural(s.failedTests, 'test')} failed`);
  if (s.notRun > 0) parts.push(`${plural(s.notRun, 'test')} not run`);
  return `tests: ${s.passed} passed, ${failed} failed${parts.length > 0 ? ` (${parts.join('; ')})` : ''}`;
}

/** test.sh's exit code: vitest's when it failed, else 1 when the summary counts a failure. */
export function exitCode(s: RunSummary | undefined, vitestExit: number): number {
  if (vitestExit !== 0) return vitestExit;
  return s === undefined || failureCount(s) > 0 ? 1 : 0;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function isSuiteFailure(v: unknown): v is SuiteFailure {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return typeof f.file === 'string' && typeof f.message === 'string' && (f.suite === undefined || typeof f.suite === 'string')
    && (f.phase === 'load' || f.phase === 'beforeAll' || f.phase === 'afterAll');
}

/** Checks a summary read back from its file. */
export function parseSummary(text: string): RunSummary {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null) throw new SummaryFormatError('the summary is not an object');
  const s = v as Record<string, unknown>;
  if (!isCount(s.passed) || !isCount(s.failedTests) || !isCount(s.notRun) || typeof s.interrupted !== 'boolean'
    || !Array.isArray(s.suiteFailures) || !s.suiteFailures.every(isSuiteFailure) || !isStrings(s.unhandledErrors)) {
    throw new SummaryFormatError('the summary lacks a field or has one of the wrong type');
  }
  return { passed: s.passed, failedTests: s.failedTests, notRun: s.notRun, suiteFailures: s.suiteFailures, unhandledErrors: s.unhandledErrors, interrupted: s.interrupted };
}
