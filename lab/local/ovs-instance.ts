// A private Open vSwitch for one emulated host: ovsdb-server + ovs-vswitchd (userspace datapath)
// as child processes we own, with every file in `dir`, optionally inside a network namespace.
import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { MerakError } from '@merak/common';
import { noteChildExit } from './child-exits.js';

export const VSWITCH_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface OvsInstance {
  readonly dir: string;
  readonly dbSocket: string;
  /** The current PIDs (vswitchd's changes with restartVswitchd). */
  readonly pids: { readonly ovsdbServer: number; readonly vswitchd: number };
  /**
   * SIGKILL to ovs-vswitchd (a crash) and the same command line again; resolves to the new PID
   * once its control socket is back. OVSDB is untouched, so vswitchd rebuilds its bridges from it,
   * without any OpenFlow flow or tunnel neighbour.
   */
  restartVswitchd(): Promise<number>;
  stop(): Promise<void>;
}

export class OvsStartError extends MerakError {
  constructor(message: string, readonly logTail: string) {
    super('UNAVAILABLE', `${message}${logTail ? `\n--- log tail ---\n${logTail}` : ''}`);
  }
}

/** Says which OVS binary is missing, or undefined when all are there. */
export function ovsMissing(): string | undefined {
  for (const bin of ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd']) {
    try {
      execFileSync('which', [bin], { stdio: 'ignore' });
    } catch {
      return `${bin} not found: install the Debian package openvswitch-switch`;
    }
  }
  return existsSync(VSWITCH_SCHEMA) ? undefined : `${VSWITCH_SCHEMA} not found: install openvswitch-switch`;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(t);
}

/** Resolves when `check` passes, polling; rejects after `timeoutMs` or when `child` dies. */
async function until(check: () => Promise<boolean>, child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode})`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    s.once('connect', () => {
      s.write(JSON.stringify({ id: 0, method: 'list_dbs', params: [] }));
      s.once('data', () => { s.destroy(); resolve(true); });
    });
    s.once('error', () => resolve(false));
  });
}

/** Every OVS file (sockets, pid files, logs, the netdev tap's control) stays in `dir`. */
function ovsEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir, OVS_PKGDATADIR: '/usr/share/openvswitch' };
}

function launch(dir: string, netnsName: string | undefined, cmd: string[], onSpawn?: (pid: number) => void): ChildProcess {
  const [bin, args] = netnsName ? ['nsenter', [`--net=/run/netns/${netnsName}`, '--', ...cmd]] : [cmd[0]!, cmd.slice(1)];
  // Own process group, like the agent: the launcher stops it, in order. Unreferenced: it may
  // outlive the launcher (and be stopped later by PID).
  const child = spawn(bin, args, { env: ovsEnv(dir), stdio: 'ignore', detached: true });
  child.unref();
  noteChildExit(child);
  if (child.pid !== undefined) onSpawn?.(child.pid);
  return child;
}

export interface OvsDaemonStart {
  /** The instance's folder (conf.db, sockets, logs). */
  readonly dir: string;
  readonly netnsName?: string | undefined;
  readonly timeoutMs?: number;
  /** Called with the PID right after the spawn, before readiness. */
  readonly onSpawn?: (pid: number) => void;
}

/** ovsdb-server on `dir`'s conf.db (which must exist); resolves once its socket answers. */
export async function startOvsdbServer(o: OvsDaemonStart): Promise<ChildProcess> {
  const { dir } = o;
  const dbSocket = join(dir, 'db.sock');
  // mlockall is off unless asked for (--mlockall): right for many small instances.
  const server = launch(dir, o.netnsName, ['ovsdb-server', join(dir, 'conf.db'), `--remote=punix:${dbSocket}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
    `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--log-file=${join(dir, 'ovsdb-server.log')}`], o.onSpawn);
  try {
    await until(() => socketAnswers(dbSocket), server, o.timeoutMs ?? 20_000, 'ovsdb-server');
  } catch (e) {
    await terminate(server, 2000);
    throw new OvsStartError((e as Error).message, tail(join(dir, 'ovsdb-server.log')));
  }
  return server;
}

/** ovs-vswitchd on `dir`'s ovsdb-server; resolves once its control socket exists. */
export async function startVswitchd(o: OvsDaemonStart): Promise<ChildProcess> {
  const { dir } = o;
  const ctl = join(dir, 'ovs-vswitchd.ctl');
  // A killed vswitchd leaves its control socket behind: readiness is the new one appearing.
  rmSync(ctl, { force: true });
  const child = launch(dir, o.netnsName, ['ovs-vswitchd', `unix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`,
    `--unixctl=${ctl}`, `--log-file=${join(dir, 'ovs-vswitchd.log')}`], o.onSpawn);
  try {
    // vswitchd is up once it has written its pid file and control socket.
    await until(async () => existsSync(ctl), child, o.timeoutMs ?? 20_000, 'ovs-vswitchd');
  } catch (e) {
    await terminate(child, 2000);
    throw new OvsStartError((e as Error).message, tail(join(dir, 'ovs-vswitchd.log')));
  }
  return child;
}

export async function startOvsInstance(opts: { dir: string; netnsName?: string; timeoutMs?: number }): Promise<OvsInstance> {
  const missing = ovsMissing();
  if (missing) throw new OvsStartError(missing, '');
  const { dir } = opts;
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'conf.db');
  const dbSocket = join(dir, 'db.sock');
  if (!existsSync(db)) execFileSync('ovsdb-tool', ['create', db, VSWITCH_SCHEMA]);
  const server = await startOvsdbServer(opts);
  // The Open_vSwitch root row and its version, as ovs-ctl writes them at start.
  const version = /\(Open vSwitch\) (\S+)/.exec(execFileSync('ovs-vswitchd', ['--version'], { encoding: 'utf8' }))?.[1] ?? '';
  execFileSync('ovs-vsctl', [`--db=unix:${dbSocket}`, '--no-wait', 'init', '--', 'set', 'Open_vSwitch', '.', `ovs_version=${JSON.stringify(version)}`]);
  let vswitchd: ChildProcess;
  try {
    vswitchd = await startVswitchd(opts);
  } catch (e) {
    await terminate(server, 2000);
    throw e;
  }
  return {
    dir,
    dbSocket,
    get pids() {
      return { ovsdbServer: server.pid!, vswitchd: vswitchd.pid! };
    },
    async restartVswitchd() {
      vswitchd.kill('SIGKILL');
      await exited(vswitchd);
      vswitchd = await startVswitchd(opts);
      return vswitchd.pid!;
    },
    async stop() {
      await terminate(vswitchd, 5000);
      await terminate(server, 5000);
    },
  };
}
