// How Alcor calls are tried again: a few attempts, each wait twice the last (with jitter so that
// many clients do not retry in step), no wait longer than a cap. With the call's own deadline this
// bounds a call's whole time: (retries + 1) deadlines plus at most retries × maxDelayMs of waiting;
// a create also waits up to one more deadline after each attempt that timed out (create-or-adopt.ts).
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Further attempts after a transient failure. */
  readonly retries: number;
  /** The first wait (default 200 ms). */
  readonly baseMs?: number;
  /** No wait is longer (default 2 s). */
  readonly maxDelayMs?: number;
}

/** One retry about to happen, for the log and the call counts. */
export interface RetryEvent {
  /** "POST /project/{project_id}/vpcs" */
  readonly endpoint: string;
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly retries: number;
  readonly delayMs: number;
  /** Of the failure that made the retry: 0 when there was no answer. */
  readonly status: number;
  readonly reason: string;
}

export const DEFAULT_BASE_MS = 200;
export const DEFAULT_MAX_DELAY_MS = 2000;

/** The wait before retry number `attempt` (1-based): base·2^(attempt−1), capped, times 0.5–1. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const cap = policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const full = Math.min(cap, (policy.baseMs ?? DEFAULT_BASE_MS) * 2 ** Math.max(0, attempt - 1));
  return Math.round(full * (0.5 + Math.random() / 2));
}

/**
 * Looks for something until it is there or `windowMs` has passed (undefined then). After a create
 * that timed out, the request may still be on its way into Alcor: it is waited for, not raced.
 */
export async function lookFor<T>(lookup: () => Promise<T | undefined>, windowMs: number, policy: RetryPolicy): Promise<T | undefined> {
  const until = Date.now() + windowMs;
  for (let i = 1; ; i++) {
    const left = until - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(left, backoffMs({ ...policy, maxDelayMs: Math.min(policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS, 1000) }, i)));
    const found = await lookup();
    if (found !== undefined) return found;
  }
}
