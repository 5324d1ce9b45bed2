// The ping test in the report: pairs passed and failed, isolation, time to first reply apart from
// the steady RTT, a pair matrix for small scenarios, each pair's own figures for JSON readers.
import { type Quantiles, Samples, round3 } from './quantiles.js';

export interface PingOutcome {
  readonly src: string;
  readonly dst: string;
  readonly srcHost: string;
  readonly dstHost: string;
  readonly dstIp: string;
  readonly expect: 'reach' | 'isolated';
  readonly sent: number;
  readonly received: number;
  readonly rttAvgMs: number;
  /** From the first echo sent to the first reply (a cold path: ARP and any lost echo included); 0 = none. */
  readonly firstReplyMs: number;
  readonly error: string;
}

/** One ping pair in the report's JSON: time to first reply apart from the steady RTT. */
export interface PairFigures {
  readonly src: string;
  readonly dst: string;
  readonly expect: 'reach' | 'isolated';
  readonly firstReplyMs: number;
  readonly rttAvgMs: number;
  readonly received: number;
  readonly sent: number;
}

/** The ping test's figures in the report. */
export interface PingFigures {
  readonly pairsPassed: number;
  readonly pairsFailed: number;
  readonly isolationPassed: number;
  readonly isolationFailed: number;
  /** pairs whose two VMs are on different vhosts (through the overlay) */
  readonly crossHostPairs: number;
  readonly rttMs: Quantiles;
  /** Time to the first reply, per pair that got one. */
  readonly firstReplyMs: Quantiles;
  /** The same as a CDF, at CDF_PERCENTILES (absent in reports older than v2). */
  readonly firstReplyCdf?: readonly number[];
  readonly failedPairs: readonly PingOutcome[];
  /** src -> dst -> received/sent, for small scenarios only. */
  readonly matrix?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Every pair's own figures (the first MAX_LISTED_PAIRS), for JSON readers: slow apart from broken. */
  readonly pairs: readonly PairFigures[];
  /** How many pairs `pairs` leaves out. */
  readonly pairsNotListed: number;
}

const MAX_LISTED_FAILED_PAIRS = 200;
/** Pairs listed one by one in the JSON (~100 bytes each). */
const MAX_LISTED_PAIRS = 10_000;
const MATRIX_MAX_VMS = 20;

/** A pair passed: a reach pair got a reply; an isolated pair got none, and no error. */
export const pingPassed = (p: PingOutcome): boolean => (p.expect === 'reach' ? p.received > 0 : p.received === 0 && p.error === '');

export function pingSummary(outcomes: readonly PingOutcome[]): PingFigures {
  const passed = pingPassed;
  const reach = outcomes.filter((p) => p.expect === 'reach');
  const isolated = outcomes.filter((p) => p.expect === 'isolated');
  let matrix: Record<string, Record<string, string>> | undefined;
  if (new Set(outcomes.map((p) => p.src)).size <= MATRIX_MAX_VMS) {
    matrix = {};
    for (const p of outcomes) (matrix[p.src] ??= {})[p.dst] = `${p.received}/${p.sent}`;
  }
  const rtt = new Samples(Math.max(1, reach.length));
  const first = new Samples(Math.max(1, reach.length));
  for (const p of reach) {
    if (p.received === 0) continue;
    rtt.push(p.rttAvgMs);
    first.push(p.firstReplyMs);
  }
  return {
    pairsPassed: reach.filter(passed).length,
    pairsFailed: reach.filter((p) => !passed(p)).length,
    isolationPassed: isolated.filter(passed).length,
    isolationFailed: isolated.filter((p) => !passed(p)).length,
    crossHostPairs: reach.filter((p) => p.srcHost !== p.dstHost).length,
    rttMs: rtt.quantiles(),
    firstReplyMs: first.quantiles(),
    firstReplyCdf: first.cdf(),
    failedPairs: outcomes.filter((p) => !passed(p)).slice(0, MAX_LISTED_FAILED_PAIRS),
    ...(matrix ? { matrix } : {}),
    pairs: outcomes.slice(0, MAX_LISTED_PAIRS).map((p) => ({
      src: p.src, dst: p.dst, expect: p.expect, firstReplyMs: round3(p.firstReplyMs), rttAvgMs: round3(p.rttAvgMs), received: p.received, sent: p.sent,
    })),
    pairsNotListed: Math.max(0, outcomes.length - MAX_LISTED_PAIRS),
  };
}
