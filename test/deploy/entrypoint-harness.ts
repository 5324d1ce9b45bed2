// What the entrypoint tests share: the entrypoint run as it is (bash, outside a container) inside a
// network namespace, its JSON log lines, and the processes it leaves (by process group and netns).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ENTRYPOINT = join(ROOT, 'images/vhost/entrypoint.sh');
export const AGENT_MAIN = join(ROOT, 'agent/dist/main.js');
export const COORDINATOR_MAIN = join(ROOT, 'coordinator/dist/main.js');

/**
 * The environment of one vhost: every OVS path and the agent's socket under `dir`/`name`, the
 * container's names for the rest; `extra` adds or overrides.
 */
export function vhostEnvIn(dir: string, name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return {
    PATH: process.env.PATH,
    OVS_RUNDIR: join(d, 'run'),
    OVS_DBDIR: join(d, 'db'),
    OVS_LOGDIR: join(d, 'log'),
    OVS_SYSCONFDIR: join(d, 'etc'),
    MERAK_AGENT_CMD: `${process.execPath} --enable-source-maps ${AGENT_MAIN}`,
    MERAK_VHOST: name,
    MERAK_LISTEN: `unix:${join(d, 'agent.sock')}`,
    MERAK_STOP_TIMEOUT_S: '10',
    ...extra,
  };
}

export interface LogLine {
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A running entrypoint: its JSON log lines as they come, and its exit. */
export interface Entrypoint {
  readonly pid: number;
  readonly lines: LogLine[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line matching, or rejects (with the log so far) after `ms` or on exit. */
  line(match: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
}

const running: ChildProcess[] = [];

/** SIGKILLs whatever a failed test left running: by process group, which only our entrypoints own. */
export async function killLeftovers(): Promise<void> {
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
    for (const pid of processGroup(child.pid!)) process.kill(pid, 'SIGKILL');
  }
}

export function startEntrypoint(netns: string, env: NodeJS.ProcessEnv): Entrypoint {
  // nsenter execs bash in place: the child's pid is the entrypoint's, and its own process group.
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', 'bash', ENTRYPOINT], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  const take = (text: string): void => {
    raw.push(text);
    if (!text.startsWith('{')) return;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      return;
    }
    for (const w of waiters) w();
  };
  createInterface({ input: child.stdout! }).on('line', take);
  createInterface({ input: child.stderr! }).on('line', take);
  return {
    pid: child.pid!,
    lines,
    exited,
    line(match, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no such log line after ${ms} ms`)), ms);
        const finish = (e?: Error, l?: LogLine): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(new Error(`${e.message}; output so far:\n${raw.slice(-40).join('\n')}`));
          else resolve(l!);
        };
        const check = (): void => {
          const l = lines.find(match);
          if (l) finish(undefined, l);
          else if (done) finish(new Error('the entrypoint exited'));
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Processes whose process group is `pgid` (everything the entrypoint started stays in its group). */
export function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Processes whose network namespace is the one mounted at /run/netns/<name>. */
export function processesInNetns(name: string): number[] {
  const ino = statSync(`/run/netns/${name}`).ino;
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readlinkSync(`/proc/${e}/ns/net`) === `net:[${ino}]`;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Running, not a zombie. */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
};

export function httpGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

export function runBash(script: string, env: NodeJS.ProcessEnv): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('bash', ['-c', `source "$1"; ${script}`, 'bash', ENTRYPOINT], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout + err.stderr };
  }
}

