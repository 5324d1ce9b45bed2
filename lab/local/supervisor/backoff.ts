// Restart delays as kubelet's CrashLoopBackOff: the first restart after `baseMs`, each further
// crash in a row doubles it up to `maxMs`; a process that stayed up `resetAfterMs` starts over.
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 60_000, resetAfterMs: 60_000 };

/** The delay before the restart that follows `crashes` crashes in a row (1 = the first). */
export function restartDelayMs(policy: BackoffPolicy, crashes: number): number {
  if (crashes <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(crashes - 1, 30));
}
