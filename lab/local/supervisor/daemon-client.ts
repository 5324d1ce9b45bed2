// `local up` / `local down` / `local status` talking to an emulation's supervisor daemon: start it
// (detached, its log in the local folder), follow its launch, ask it to heal, stop it by PID.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MerakError } from '@merak/common';
import { isRunning, signalRecorded, stopRecorded } from '../process-record.js';
import type { LocalSettings } from '../local-record.js';
import { type SupervisionRecord, type SupervisorPhase, readSupervision } from './supervision-file.js';

export const SUPERVISOR_LOG = 'supervisor.log';
const UP_LOG = 'up.log';

/** The supervisor ended or failed before it was up; carries its own error or its log's tail. */
export class SupervisorStartError extends MerakError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

/** The built daemon (from the package, so it is found from sources under test too). */
export function supervisorMainPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@merak/lab/package.json')), 'dist', 'local', 'supervisor', 'daemon-main.js');
}

/** The running supervisor of the emulation in `dir`, if any. */
export function runningSupervisor(dir: string): SupervisionRecord | undefined {
  const r = readSupervision(dir);
  return r && isRunning(r.supervisor) ? r : undefined;
}

/** Starts the daemon (its own session: a Ctrl-C or the end of `local up` does not reach it). */
export function spawnSupervisor(dir: string, mode: { launch: LocalSettings } | { heal: true }): number {
  const args = 'launch' in mode ? ['--launch', JSON.stringify(mode.launch)] : ['--heal'];
  const fd = openSync(join(dir, SUPERVISOR_LOG), 'a');
  try {
    const child = spawn(process.execPath, ['--enable-source-maps', supervisorMainPath(), '--dir', dir, ...args], { stdio: ['ignore', fd, fd], detached: true });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/**
 * Follows the daemon with `pid` until its phase is one of `until`: its user lines (up.log) go to
 * `onLine` as they come. Rejects when it fails or exits first.
 */
export async function followSupervisor(dir: string, pid: number, until: readonly SupervisorPhase[], onLine: (line: string) => void, timeoutMs = 600_000): Promise<void> {
  let shown = existsSync(join(dir, UP_LOG)) ? readFileSync(join(dir, UP_LOG), 'utf8').length : 0;
  const flush = (): void => {
    if (!existsSync(join(dir, UP_LOG))) return;
    const text = readFileSync(join(dir, UP_LOG), 'utf8');
    const complete = text.lastIndexOf('\n') + 1;
    if (complete <= shown) return;
    for (const line of text.slice(shown, complete).split('\n').slice(0, -1)) onLine(line);
    shown = complete;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    flush();
    const r = readSupervision(dir);
    const mine = r?.supervisor.pid === pid ? r : undefined;
    if (mine?.phase === 'failed') throw new SupervisorStartError(mine.error ?? 'the launch failed');
    if (mine && until.includes(mine.phase)) return;
    if (!isPidAlive(pid)) throw new SupervisorStartError(`the supervisor (pid ${pid}) exited; see ${join(dir, SUPERVISOR_LOG)}:\n${tail(join(dir, SUPERVISOR_LOG))}`);
    if (Date.now() > deadline) throw new SupervisorStartError(`the supervisor (pid ${pid}) did not get to ${until.join('/')} in ${timeoutMs / 1000} s; see ${join(dir, SUPERVISOR_LOG)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Asks a running supervisor to start whatever is down now. */
export function askToHeal(r: SupervisionRecord): boolean {
  return signalRecorded(r.supervisor, 'SIGUSR1');
}

/** Stops the supervisor first (SIGTERM: it finishes starts under way, then exits), so nothing is restarted meanwhile. */
export async function stopSupervisor(dir: string): Promise<'not running' | 'terminated' | 'killed' | 'survived'> {
  const r = readSupervision(dir);
  if (!r) return 'not running';
  return stopRecorded(r.supervisor, 30_000);
}

function isPidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}
