// CPU time of OVN's daemons, from /proc/<pid>/stat (utime + stime), in seconds.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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

/** Busy and total jiffies of all CPUs, from /proc/stat. */
function machineTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((x, y) => x + y, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/**
 * Waits (at most `maxMs`) until the CPUs were less than `busyPct` busy over 2 s, so a run does not
 * start while the last one's removal (or anything else) loads the machine. Returns the last busy %.
 */
export async function waitForQuiet(say: (line: string) => void, stop: () => boolean, busyPct = 30, maxMs = 30_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (let said = false; ;) {
    const a = machineTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const b = machineTimes();
    const busy = (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
    if (busy < busyPct || Date.now() > deadline || stop()) return Math.round(busy);
    if (!said) say(`waiting for the machine to be quiet (CPUs ${busy.toFixed(0)}% busy; at most ${maxMs / 1000} s)`);
    said = true;
  }
}
