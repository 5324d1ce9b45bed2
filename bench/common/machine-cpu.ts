// The machine's CPUs as a whole, from /proc/stat: how busy they were, and waiting for them to be
// quiet before a run so it does not start while the last one's teardown (or anything else) loads them.
import { readFileSync } from 'node:fs';

export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

/** Busy and total jiffies of all CPUs. */
export function cpuTimes(): CpuTimes {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total }; // minus idle and iowait
}

/** Percent of the CPUs' time that was busy between two readings. */
export const busyPctBetween = (a: CpuTimes, b: CpuTimes): number => (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);

export interface QuietOptions {
  /** quiet: less busy than this over a 2 s window */
  readonly busyPct: number;
  /** gives up waiting after this */
  readonly maxMs: number;
  /** the bench is stopping: no more waiting */
  readonly stopped: () => boolean;
  /** told once, with the busy percentage, when it has to wait */
  readonly waiting: (busyPct: number) => void;
}

/** Waits until the CPUs were quiet over a 2 s window (or maxMs passed); returns that window's busy percentage. */
export async function waitForQuietCpus(o: QuietOptions): Promise<number> {
  const deadline = Date.now() + o.maxMs;
  for (let said = false; ;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const busy = busyPctBetween(a, cpuTimes());
    if (busy < o.busyPct || Date.now() > deadline || o.stopped()) return busy;
    if (!said) o.waiting(busy);
    said = true;
  }
}
