// A Node program as a child process we own: it writes its log straight to a file (no pipe through
// this process, so it outlives a launcher that exits or is killed), runs in its own process group
// (a Ctrl-C meant for the launcher does not reach it before the launcher has used it to tear
// down), is ready when a given line appears in that log, and is stopped by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { MerakError } from '@merak/common';
import { noteChildExit } from './child-exits.js';

export interface NodeProcessOptions {
  readonly script: string;
  readonly args: readonly string[];
  /** Run inside /run/netns/<netns> (nsenter, not `ip netns exec`: that hides /run/netns mounts). */
  readonly netns?: string;
  readonly logFile: string;
  /** A log line containing this, written after the start, means ready. */
  readonly readyText: string;
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly nodeFlags?: readonly string[];
  /** What to call it in errors ("agent", "coordinator"). */
  readonly what: string;
  /** Called with the PID right after the spawn, before readiness (to record it at once). */
  readonly onSpawn?: (pid: number) => void;
}

export interface NodeProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (a crash, for restart tests). */
  kill(): Promise<void>;
}

export class ProcessStartError extends MerakError {
  constructor(message: string, readonly logFile: string) {
    let logTail = '';
    try {
      logTail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
    } catch {
      // no log yet
    }
    super('UNAVAILABLE', logTail ? `${message}\n--- log tail (${logFile}) ---\n${logTail}` : message);
  }
}

export async function startNodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const node = [process.execPath, '--enable-source-maps', ...(opts.nodeFlags ?? []), opts.script, ...opts.args];
  const argv = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, '--', ...node] : node;
  const logFd = openSync(opts.logFile, 'a');
  const from = fstatSync(logFd).size;
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd], env: opts.env ?? process.env, detached: true });
  } finally {
    closeSync(logFd);
  }
  child.unref();
  noteChildExit(child);
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const proc: NodeProcess = {
    pid: child.pid!,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 10_000) {
      if (!proc.alive()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (!proc.alive()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (logSince(opts.logFile, from).includes(opts.readyText)) break;
      if (exitCode !== undefined) throw new ProcessStartError(`${opts.what} exited with code ${exitCode} before it was ready; see ${opts.logFile}`, opts.logFile);
      if (Date.now() > deadline) throw new ProcessStartError(`${opts.what} not ready after ${timeoutMs} ms; see ${opts.logFile}`, opts.logFile);
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return proc;
}

/** What was appended to `file` after byte `from`. */
function logSince(file: string, from: number): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= from) return '';
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
