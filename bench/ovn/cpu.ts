// CPU time of OVN's daemons, from /proc/<pid>/stat (utime + stime), in seconds.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitForQuietCpus } from '../common/machine-cpu.js';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of `pid` in seconds; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // The command name may hold spaces and parentheses: fields count from after its closing ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

export interface OvnPids {
  readonly northd: number;
  readonly nb: number;
  readonly sb: number;
  readonly controllers: readonly number[];
}

export interface CpuSample {
  readonly northd: number;
  readonly nb: number;
  readonly sb: number;
  /** summed over the vhosts' ovn-controllers */
  readonly controllers: number;
}

export function sampleCpu(p: OvnPids): CpuSample {
  return {
    northd: cpuSeconds(p.northd), nb: cpuSeconds(p.nb), sb: cpuSeconds(p.sb),
    controllers: p.controllers.reduce((s, pid) => s + cpuSeconds(pid), 0),
  };
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuSample {
  return { northd: b.northd - a.northd, nb: b.nb - a.nb, sb: b.sb - a.sb, controllers: b.controllers - a.controllers };
}

/** Waits (at most `maxMs`) until the CPUs were less than `busyPct` busy over 2 s; returns the last busy %. */
export async function waitForQuiet(say: (line: string) => void, stop: () => boolean, busyPct = 30, maxMs = 30_000): Promise<number> {
  const busy = await waitForQuietCpus({
    busyPct, maxMs, stopped: stop,
    waiting: (b) => say(`waiting for the machine to be quiet (CPUs ${b.toFixed(0)}% busy; at most ${maxMs / 1000} s)`),
  });
  return Math.round(busy);
}
