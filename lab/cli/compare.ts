// `merak compare A B`: two runs side by side. Each of A and B is a report.json file (or a folder
// holding one: another machine's, another version's), or a scenario id whose report the
// coordinator has. Prints the table (or JSON), writes compare.json and compare.html to --out, and
// answers 1 when B regressed against A, so a CI pipeline can gate on it.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Comparison, DEFAULT_THRESHOLDS, FIRST_REPLY_FLOOR_MS, MIN_BEYOND, type Report, type Thresholds, compareReports, parseReportJson, renderCompareHtml, renderCompareText } from '@merak/coordinator';
import { MerakError } from '@merak/common';

export const COMPARE_HELP = `merak compare A B: two runs side by side, B against A.

Usage: merak compare A B [--threshold PCT] [--floor-ms MS] [--json] [--out DIR]

A and B are each either
  a report.json file, or a folder holding one (e.g. two machines', or two versions' --out), or
  a scenario id the coordinator knows (as for 'merak report ID'; --coordinator etc. as for it).

Every figure of both is listed: VM counts, creation rates, every quantile (p50, p90, p99, max)
of end to end, since scheduled start, the agent's whole VM and each step, the Alcor and OVN
splits, each control-plane endpoint (calls, errors, retries, latency), the ping test (pairs,
isolation, first reply, rtt); with B - A, the change in %, and a verdict:
  latencies  worse (or better) when B differs from A by more than --threshold percent of A AND
             by more than --floor-ms (the defaults hold the noise measured between identical-seed
             runs on a busy 2-core machine: docs/reports.md); sub-millisecond steps cannot flap
             on %. A quantile is judged only with ${MIN_BEYOND} samples beyond it in both runs
             (p50: 20 VMs, p90: 100, p99: 1,000), else "few samples"; max never (one sample).
             The first ping reply's floor is at least ${FIRST_REPLY_FLOOR_MS} ms (one echo retry)
  rates      worse (or better) beyond --threshold percent
  counts     failed VMs, failed pairs, errors, retries: exact (one more is worse)

Options:
  --threshold PCT   relative change within which a figure is the same (default ${DEFAULT_THRESHOLDS.pct})
  --floor-ms MS     absolute change a latency must also exceed (default ${DEFAULT_THRESHOLDS.floorMs})
  --json            print the comparison as JSON instead of the table
  --out DIR         where compare.json and compare.html are written (default ./merak-report)

Exit code: 0 nothing worse, 1 something worse (listed last), 2 bad arguments or input.

Examples:
  merak compare run-a/report.json run-b/report.json
  merak compare 3f2a1c 9b7e44 --threshold 10 --floor-ms 2
`;

/** An argument of compare that is wrong, named as the user gave it. */
export class CompareArgumentError extends MerakError {
  constructor(readonly argument: string, message: string) {
    super('INVALID_ARGUMENT', `${argument}: ${message}`, { context: { argument } });
  }
}

export interface CompareFlags {
  readonly threshold?: string | undefined;
  readonly floorMs?: string | undefined;
}

/** --threshold and --floor-ms, checked. */
export function thresholdsOf(flags: CompareFlags): Thresholds {
  const read = (flag: string, value: string | undefined, fallback: number, max: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value.replace(/%$|ms$/, ''));
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new CompareArgumentError(flag, `'${value}' is not a number in 0..${max}`);
    return n;
  };
  return { pct: read('--threshold', flags.threshold, DEFAULT_THRESHOLDS.pct, 1000), floorMs: read('--floor-ms', flags.floorMs, DEFAULT_THRESHOLDS.floorMs, 3_600_000) };
}

/** A file or folder argument: the report in it; undefined when the argument is no path (a scenario id). */
export function readReportArgument(tag: string, arg: string): Report | undefined {
  const looksLikePath = arg.includes('/') || arg.endsWith('.json') || arg.startsWith('.');
  if (!existsSync(arg)) {
    if (looksLikePath) throw new CompareArgumentError(`${tag} (${arg})`, 'no such file or folder');
    return undefined;
  }
  const file = statSync(arg).isDirectory() ? join(arg, 'report.json') : arg;
  if (!existsSync(file)) throw new CompareArgumentError(`${tag} (${arg})`, 'a folder without report.json');
  return parseReportJson(readFileSync(file, 'utf8'), `${tag} (${file})`);
}

export interface CompareOutput {
  readonly comparison: Comparison;
  readonly dir: string;
}

/** Compares, prints, writes compare.json and compare.html; the exit code is for the caller. */
export function runCompare(a: { source: string; report: Report }, b: { source: string; report: Report }, opts: { thresholds: Thresholds; json: boolean; out: string; print: (s: string) => void }): CompareOutput {
  const comparison = compareReports(a.report, b.report, { a: a.source, b: b.source }, opts.thresholds);
  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(comparison, null, 2);
  writeFileSync(join(dir, 'compare.json'), `${json}\n`);
  writeFileSync(join(dir, 'compare.html'), renderCompareHtml(comparison));
  opts.print(opts.json ? json : `${renderCompareText(comparison)}\n\ncomparison written to ${join(dir, 'compare.json')}, ${join(dir, 'compare.html')}`);
  return { comparison, dir };
}
