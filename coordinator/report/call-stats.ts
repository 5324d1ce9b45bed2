// Latency, errors and retries of the control plane's API, per endpoint, for a scenario's report:
// the coordinator's own calls and those its agents made for each VM (they come back in the results).
import { reasonOf } from './figures.js';
import { Samples } from './quantiles.js';
import type { EndpointLatency } from './report.js';

export interface CallSample {
  readonly endpoint: string;
  readonly micros: number;
  /** 0 = no answer */
  readonly status: number;
  readonly error: string;
  /** A repeat of a failed attempt. */
  readonly retry?: boolean;
}

export class CallStats {
  private readonly byEndpoint = new Map<string, { samples: Samples; errors: number; retries: number; reasons: Map<string, number> }>();

  add(c: CallSample): void {
    const e = this.byEndpoint.get(c.endpoint) ?? this.byEndpoint.set(c.endpoint, { samples: new Samples(), errors: 0, retries: 0, reasons: new Map() }).get(c.endpoint)!;
    e.samples.push(c.micros / 1000);
    if (c.error !== '') {
      e.errors++;
      // Bounded: past 20 reasons an endpoint's further ones count as one.
      const reason = `${c.status === 0 ? 'no answer' : c.status}: ${reasonOf(c.error)}`;
      const key = e.reasons.has(reason) || e.reasons.size < 20 ? reason : 'other reasons';
      e.reasons.set(key, (e.reasons.get(key) ?? 0) + 1);
    }
    if (c.retry) e.retries++;
  }

  /**
   * One VM's calls, in the order its agent made them. Their wire form says nothing of retries, but
   * they are all about one port, so a call to an endpoint whose last call failed is its retry.
   */
  addVmCalls(calls: readonly CallSample[]): void {
    const failed = new Set<string>();
    for (const c of calls) {
      this.add({ ...c, retry: c.retry === true || failed.has(c.endpoint) });
      if (c.error !== '') failed.add(c.endpoint);
      else failed.delete(c.endpoint);
    }
  }

  /** Per endpoint, sorted by name: calls, errors (no answer or an answer not expected) and their reasons, retries and latency quantiles in ms. */
  summary(): EndpointLatency[] {
    return [...this.byEndpoint].sort(([a], [b]) => a.localeCompare(b)).map(([endpoint, e]) => {
      const q = e.samples.quantiles();
      const errorReasons = [...e.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
      return { endpoint, count: q.count, errors: e.errors, retries: e.retries, p50: q.p50, p90: q.p90, p99: q.p99, max: q.max, errorReasons };
    });
  }
}
