// The machine's load: waiting for it to be quiet before a mode, and sampling it while the mode runs.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { round, type LoadFigures } from './figures.js';
import { progress, stop } from './stop.js';

/** Busy and total jiffies of all CPUs, from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total }; // minus idle and iowait
}

/**
 * Waits (at most `maxMs`) until the CPUs were less than `busyPct` busy over a 2 s window, so a mode
 * does not start while the previous one's teardown (or anything else) still loads the machine.
 * Returns the last window's busy percentage.
 */
export async function waitForQuiet(label: string, busyPct = 30, maxMs = 60_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (let said = false; ;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const b = cpuTimes();
    const busy = (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
    if (busy < busyPct || Date.now() > deadline || stop.signal !== undefined) return round(busy);
    if (!said) progress(`${label}: waiting for the machine to be quiet (CPUs ${busy.toFixed(0)}% busy)`);
    said = true;
  }
}

export interface LoadSampler {
  /** Stops sampling; the CPUs' busy share is measured up to here. */
  stop(): void;
  /** The figures, the 1-minute load read once more now. */
  figures(atStart: number, cpuBusyPctBefore: number): LoadFigures;
}

/** Samples the 1-minute load every 2 s and the CPUs' busy time from now until `stop`. */
export function sampleLoad(): LoadSampler {
  const loads: number[] = [];
  const cpu0 = cpuTimes();
  let cpu1 = cpu0;
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 2000);
  return {
    stop() {
      clearInterval(sampler);
      cpu1 = cpuTimes();
    },
    figures: (atStart, cpuBusyPctBefore) => ({
      atStart: round(atStart, 2),
      mean: round(loads.length > 0 ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0]!, 2),
      max: round(Math.max(loadavg()[0]!, ...loads), 2),
      cpuBusyPct: round((100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total)),
      cpuBusyPctBefore,
    }),
  };
}
