// Capped exponential backoff with full jitter (the delay before attempt n).
export interface BackoffConfig {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffDelay(attempt: number, config: BackoffConfig, random: () => number = Math.random): number {
  const ceiling = Math.min(config.maxMs, config.initialMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}
