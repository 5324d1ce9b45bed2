// The machine's load: waiting for it to be quiet before a mode, and sampling it while the mode runs.
import { loadavg } from 'node:os';
import { busyPctBetween, cpuTimes, waitForQuietCpus } from '../common/machine-cpu.js';
import { round, type LoadFigures } from './figures.js';
import { progress, stop } from './stop.js';

/**
 * Waits (at most `maxMs`) until the CPUs were less than `busyPct` busy over a 2 s window, so a mode
 * does not start while the previous one's teardown (or anything else) still loads the machine.
 * Returns the last window's busy percentage.
 */
export async function waitForQuiet(label: string, busyPct = 30, maxMs = 60_000): Promise<number> {
  const busy = await waitForQuietCpus({
    busyPct, maxMs, stopped: () => stop.signal !== undefined,
    waiting: (b) => progress(`${label}: waiting for the machine to be quiet (CPUs ${b.toFixed(0)}% busy)`),
  });
  return round(busy);
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
      cpuBusyPct: round(busyPctBetween(cpu0, cpu1)),
      cpuBusyPctBefore,
    }),
  };
}
