// The security tests' pieces: the real binaries (coordinator/dist/main.js, agent/dist/main.js, the
// merak CLI) spawned with their output in a log file, stopped by PID; certificates made with the
// script the docs tell users to run (deploy/make-certs.sh).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../fixtures/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const COORDINATOR_MAIN = join(ROOT, 'coordinator/dist/main.js');
export const AGENT_MAIN = join(ROOT, 'agent/dist/main.js');
export const CLI_MAIN = join(ROOT, 'lab/dist/cli/main.js');
export const MAKE_CERTS = join(ROOT, 'deploy/make-certs.sh');

/** One spawned program: its log (stdout and stderr) in a file, its exit code once it exits. */
export class Spawned {
  readonly proc: ChildProcess;
  exitCode: number | null = null;
  private readonly exited: Promise<void>;

  constructor(readonly logFile: string, main: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    const fd = openSync(logFile, 'a');
    // No MERAK_TOKEN from the test's environment: each test says what the program gets.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MERAK_')));
    this.proc = spawn(process.execPath, ['--enable-source-maps', main, ...args], { stdio: ['ignore', fd, fd], env: { ...base, ...env } });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : -1);
      resolve();
    }));
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  /** The first JSON log line with `msg`, parsed. */
  line(msg: string): Record<string, unknown> | undefined {
    for (const l of this.log().split('\n')) {
      if (!l.startsWith('{')) continue;
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.msg === msg) return o;
    }
    return undefined;
  }

  /** Waits for a log line with `msg` (fails early, with the log, if the program exits). */
  async waitLine(msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    await waitFor(() => this.line(msg) !== undefined || this.exitCode !== null, timeoutMs, `'${msg}' in ${this.logFile}`);
    const l = this.line(msg);
    if (!l) throw new Error(`exited (${this.exitCode}) before '${msg}':\n${this.log()}`);
    return l;
  }

  async exit(timeoutMs = 20_000): Promise<number> {
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (this.exitCode === null) throw new Error(`${this.logFile}: still running after ${timeoutMs} ms`);
    return this.exitCode;
  }

  /** SIGTERM, SIGKILL after 5 s; by PID, only if still running. */
  async stop(): Promise<void> {
    if (this.exitCode !== null || this.proc.pid === undefined) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/** The `port` a coordinator logged in 'coordinator ready' (it listens on HOST:0). */
export async function coordinatorPort(c: Spawned): Promise<number> {
  return Number((await c.waitLine('coordinator ready')).port);
}

/** Runs the merak CLI; resolves with its exit code and output (never rejects on a non-zero exit). */
export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MERAK_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { env: { ...base, ...env }, timeout: 120_000 }, (e, stdout, stderr) => {
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** ca.crt, coordinator.crt/.key, vhost.crt/.key in `dir`, for localhost and 127.0.0.1. */
export function makeCerts(dir: string): void {
  execFileSync('bash', [MAKE_CERTS, dir, 'localhost', '127.0.0.1', '--vhost-name', 'localhost', '--vhost-name', '127.0.0.1'], { stdio: 'pipe' });
}

/** GET `path` on an HTTP unix socket: status and body. */
export function httpGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}
