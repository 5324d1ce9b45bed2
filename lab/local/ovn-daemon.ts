// OVN's daemons (ovsdb-server for NB/SB, ovn-northd, ovn-controller) as the local emulation runs
// them: each with --detach (the command returns once the daemon is ready, and the daemon lives on
// in its own session, not tied to the launcher), --pidfile, --log-file, --no-chdir, every file in
// a folder of ours (the env points OVS's and OVN's run/db/log/sysconf folders there), optionally
// inside a network namespace; its PID read from its pid file and recorded by the caller.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { MerakError } from '@merak/common';

export const OVN_NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
export const OVN_SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';

/** A daemon of OVN that did not start or did not become ready; carries its log's tail. */
export class OvnStartError extends MerakError {
  constructor(message: string, readonly logFile?: string) {
    const tail = logFile === undefined ? '' : logTail(logFile);
    super('UNAVAILABLE', tail ? `${message}\n--- log tail (${logFile}) ---\n${tail}` : message);
  }
}

export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Says which OVN program or schema is missing (install ovn-central / ovn-host), or undefined. */
export function ovnMissing(): string | undefined {
  const path = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  const has = (bin: string): boolean => path.some((d) => existsSync(`${d}/${bin}`));
  for (const [bin, pkg] of [['ovn-northd', 'ovn-central'], ['ovn-nbctl', 'ovn-common'], ['ovn-controller', 'ovn-host'], ['ovn-appctl', 'ovn-common'], ['ovsdb-server', 'openvswitch-switch']] as const) {
    if (!has(bin)) return `${bin} not found: install the Debian package ${pkg} (scripts/ensure-deps.sh does)`;
  }
  for (const schema of [OVN_NB_SCHEMA, OVN_SB_SCHEMA]) if (!existsSync(schema)) return `${schema} not found: install the Debian package ovn-common`;
  return undefined;
}

/** Every folder OVS and OVN look in for sockets, databases, logs and config: `dir`. */
export function daemonEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const pkg of ['OVS', 'OVN']) for (const kind of ['RUNDIR', 'DBDIR', 'LOGDIR', 'SYSCONFDIR']) env[`${pkg}_${kind}`] = dir;
  return env;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to its end (in `netns` via nsenter when given); rejects with its stderr. */
export function run(argv: readonly string[], o: { netns?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const full = o.netns === undefined ? argv : ['nsenter', `--net=/run/netns/${o.netns}`, '--', ...argv];
  return new Promise((resolve, reject) => {
    execFile(full[0]!, full.slice(1), { env: o.env ?? process.env, timeout: o.timeoutMs ?? 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

export interface DetachedDaemon {
  /** What to call it in errors ("OVN NB ovsdb-server"). */
  readonly what: string;
  /** The program and its flags, without --pidfile/--log-file/--detach/--no-chdir (added here). */
  readonly argv: readonly string[];
  readonly pidFile: string;
  readonly logFile: string;
  /** The daemon's folder (its env). */
  readonly dir: string;
  readonly netns?: string;
  readonly timeoutMs?: number;
}

/** Starts a daemon with --detach and resolves to its PID once the command has returned (ready). */
export async function startDetached(d: DetachedDaemon): Promise<number> {
  rmSync(d.pidFile, { force: true });
  const argv = [...d.argv, `--pidfile=${d.pidFile}`, `--log-file=${d.logFile}`, '--detach', '--no-chdir'];
  try {
    await run(argv, { env: daemonEnv(d.dir), timeoutMs: d.timeoutMs ?? 20_000, ...(d.netns !== undefined ? { netns: d.netns } : {}) });
  } catch (e) {
    throw new OvnStartError(`${d.what} did not start: ${(e as Error).message}`, d.logFile);
  }
  const pid = Number(readFileSync(d.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new OvnStartError(`${d.what}: no PID in ${d.pidFile}`, d.logFile);
  return pid;
}
