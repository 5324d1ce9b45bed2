// How our children ended (code or signal, when), kept by PID: the supervisor is the parent of
// what it starts, so it learns each exit from the kernel instead of guessing from /proc.
import type { ChildProcess } from 'node:child_process';

export interface ExitStatus {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atUnixMs: number;
}

const exits = new Map<number, ExitStatus>();

/** Remembers how `child` ends (call right after spawn). */
export function noteChildExit(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  child.once('exit', (code, signal) => exits.set(pid, { code, signal, atUnixMs: Date.now() }));
}

/** How the child with `pid` ended, once (undefined: not ours, or not ended yet). */
export function takeChildExit(pid: number): ExitStatus | undefined {
  const e = exits.get(pid);
  exits.delete(pid);
  return e;
}

/** "code 1", "signal SIGKILL", or "status unknown" (a process this supervisor did not start). */
export function describeExit(e: Pick<ExitStatus, 'code' | 'signal'> | undefined): string {
  if (!e || (e.code === null && e.signal === null)) return 'status unknown';
  return e.signal !== null ? `signal ${e.signal}` : `code ${e.code}`;
}
