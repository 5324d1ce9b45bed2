// A process's memory as /proc/PID/smaps_rollup says it: resident (RSS), proportional (PSS: shared
// pages split between the processes that map them) and anonymous, in MiB.
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  readonly rssMiB: number;
  readonly pssMiB: number;
  readonly anonMiB: number;
}

/** The process's memory, or undefined when it is gone. */
export function processMemory(pid: number): ProcessMemory | undefined {
  let rollup: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const mib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) / 1024;
  return { rssMiB: mib('Rss'), pssMiB: mib('Pss'), anonMiB: mib('Anonymous') };
}
