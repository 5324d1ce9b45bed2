// Runs an agent as a child process, optionally inside a vhost's network namespace (nsenter, not
// `ip netns exec`: the latter makes /run/netns a slave mount, hiding the VMs the agent creates).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function agentMainPath(): string {
  const pkg = createRequire(import.meta.url).resolve('@merak/agent/package.json');
  return join(dirname(pkg), 'dist', 'main.js');
}

export interface AgentProcessOptions {
  /** Run inside /run/netns/<netns>; omitted = this process's namespace. */
  readonly netns?: string;
  /** The agent's flags (see `merak-agent --help`). */
  readonly args: readonly string[];
  /** Where the agent's JSON log goes. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for "agent ready". */
  readonly readyTimeoutMs?: number;
}

export interface AgentProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (a crash, for restart tests). */
  kill(): Promise<void>;
}

export class AgentStartError extends Error {
  constructor(message: string, readonly logFile: string) {
    let logTail = '';
    try {
      logTail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
    } catch {
      // no log yet
    }
    super(logTail ? `${message}\n--- agent log tail ---\n${logTail}` : message);
    this.name = 'AgentStartError';
  }
}

export async function startAgentProcess(opts: AgentProcessOptions): Promise<AgentProcess> {
  // Readiness is the agent's "agent ready" log line, written at level info.
  const level = opts.args[opts.args.indexOf('--log-level') + 1];
  if (opts.args.includes('--log-level') && level && ['warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new Error(`--log-level ${level} would hide the "agent ready" line this launcher waits for; use info or lower`);
  }
  // MERAK_AGENT_NODE_FLAGS passes extra Node flags (e.g. --cpu-prof) to agents, for profiling.
  const extra = (process.env.MERAK_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const node = [process.execPath, '--enable-source-maps', ...extra, agentMainPath(), ...opts.args];
  const argv = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, '--', ...node] : node;
  // The agent writes its log straight to the file (no pipe through this process), in its own
  // process group, unreferenced: it outlives a launcher that exits or is killed, a Ctrl-C meant
  // for the launcher does not reach it, and another process can stop it later by PID.
  const logFd = openSync(opts.logFile, 'a');
  const from = fstatSync(logFd).size;
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd], env: opts.env ?? process.env, detached: true });
  } finally {
    closeSync(logFd);
  }
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  // Readiness is the agent's "agent ready" log line (level info), written after `from`.
  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ready = (async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (logSince(opts.logFile, from).includes('"msg":"agent ready"')) return;
      if (exitCode !== undefined) throw new AgentStartError(`agent exited with code ${exitCode} before it was ready; see ${opts.logFile}`, opts.logFile);
      if (Date.now() > deadline) throw new AgentStartError(`agent not ready after ${timeoutMs} ms; see ${opts.logFile}`, opts.logFile);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const proc: AgentProcess = {
    pid: child.pid!,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await ready;
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
