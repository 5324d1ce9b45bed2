// A process we started, recorded as PID + start time (from /proc/PID/stat), so that another
// process can stop it later and a recycled PID is never signalled.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface ProcessRecord {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot. */
  readonly startTime: number;
}

/** The /proc/PID/stat fields after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The record of a running process; undefined when there is none with that PID. */
export function recordOf(pid: number): ProcessRecord | undefined {
  const f = statFields(pid);
  // After the name: state is field 3, starttime field 22 → indexes 0 and 19.
  return f ? { pid, startTime: Number(f[19]) } : undefined;
}

/** The recorded process still runs (same PID, same start time, not a zombie). */
export function isRunning(r: ProcessRecord): boolean {
  const f = statFields(r.pid);
  return f !== undefined && Number(f[19]) === r.startTime && f[0] !== 'Z';
}

/** Signals the recorded process only if it is still the same one. */
export function signalRecorded(r: ProcessRecord, signal: NodeJS.Signals): boolean {
  if (!isRunning(r)) return false;
  try {
    process.kill(r.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves to how it ended. */
export async function stopRecorded(r: ProcessRecord, graceMs: number): Promise<'not running' | 'terminated' | 'killed' | 'survived'> {
  if (!signalRecorded(r, 'SIGTERM')) return 'not running';
  const until = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!isRunning(r)) return true;
      await new Promise((res) => setTimeout(res, 20));
    }
    return !isRunning(r);
  };
  if (await until(graceMs)) return 'terminated';
  signalRecorded(r, 'SIGKILL');
  return (await until(5000)) ? 'killed' : 'survived';
}

/** Processes whose network namespace is the one at `nsPath` (e.g. /run/netns/X), with their command lines. */
export function processesInNetns(nsPath: string): Array<ProcessRecord & { cmdline: string }> {
  let inode: number;
  try {
    // A bind-mounted namespace file reports the namespace's inode.
    inode = statSync(nsPath).ino;
  } catch {
    return [];
  }
  const out: Array<ProcessRecord & { cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) !== `net:[${inode}]`) continue;
      const rec = recordOf(pid);
      if (!rec) continue;
      out.push({ ...rec, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
