// A Node program as a child process we own: its stderr and stdout go to a log file, it is ready
// when a given line appears on stdout, and it is stopped by PID (SIGTERM, then SIGKILL). In its
// own process group by default, so a Ctrl-C meant for the launcher does not reach it before the
// launcher has used it to tear down.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface NodeProcessOptions {
  readonly script: string;
  readonly args: readonly string[];
  /** Run inside /run/netns/<netns> (nsenter, not `ip netns exec`: that hides /run/netns mounts). */
  readonly netns?: string;
  readonly logFile: string;
  /** A stdout line containing this means ready. */
  readonly readyText: string;
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly nodeFlags?: readonly string[];
  readonly detached?: boolean;
  /** What to call it in errors ("agent", "coordinator"). */
  readonly what: string;
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

export class ProcessStartError extends Error {
  constructor(message: string, readonly logFile: string) {
    let logTail = '';
    try {
      logTail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
    } catch {
      // no log yet
    }
    super(logTail ? `${message}\n--- log tail (${logFile}) ---\n${logTail}` : message);
    this.name = 'ProcessStartError';
  }
}

export async function startNodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const node = [process.execPath, '--enable-source-maps', ...(opts.nodeFlags ?? []), opts.script, ...opts.args];
  const argv = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, '--', ...node] : node;
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: opts.detached ?? true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      if (line.includes(opts.readyText)) resolve();
    });
    void exited.then((code) => setTimeout(() => reject(new ProcessStartError(`${opts.what} exited with code ${code} before it was ready`, opts.logFile)), 50));
  });
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
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProcessStartError(`${opts.what} not ready after ${timeoutMs} ms`, opts.logFile)), timeoutMs);
      }),
    ]);
  } catch (e) {
    await proc.kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return proc;
}
