// Stopping a run and saying how it goes. SIGINT/SIGTERM stop the run at the next step: the running
// mode stops writing, its ports are removed and the emulation goes down in the `finally` blocks. A
// second signal kills the bench's own child processes (pings, shell steps) by PID and exits at once,
// saying how to remove the emulation.
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '@merak/common';

let signal: NodeJS.Signals | undefined;
/** The emulation's folder while one is up (said on a hard exit). */
let liveStateDir: string | undefined;
/** Names of the shell-made VMs' namespaces start with this (local down does not know them). */
let vmNetnsPrefix: string | undefined;
const children = new Set<ChildProcess>();

export class StoppedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
    this.name = 'StoppedError';
  }
}

export const stopped = (): boolean => signal !== undefined;

export function throwIfStopped(): void {
  if (signal !== undefined) throw new StoppedError(signal);
}

export function setLiveStateDir(dir: string | undefined, vmPrefix?: string): void {
  liveStateDir = dir;
  vmNetnsPrefix = vmPrefix;
}

/** On a hard exit: the VMs' namespaces, by name (the shell-made ones are no agent's to remove). */
function deleteVmNamespaces(): void {
  if (!vmNetnsPrefix) return;
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns').filter((n) => n.startsWith(vmNetnsPrefix!));
  } catch {
    return;
  }
  if (names.length > 0) console.error(`bench: deleting ${names.length} VM namespaces (${vmNetnsPrefix}*)`);
  for (const n of names) {
    try {
      execFileSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}

export function handleStopSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (signal !== undefined) {
        for (const c of children) c.kill('SIGKILL');
        deleteVmNamespaces();
        if (liveStateDir) console.error(`bench: exiting; remove what is left with: npm run merak -- local down --local-dir ${liveStateDir.replace(/\/emulation$/, '')} (or teardownLocalEmulation on ${liveStateDir})`);
        process.exit(130);
      }
      signal = sig;
      console.error(`bench: ${sig}, stopping and cleaning up… (again to exit at once)`);
    });
  }
}

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, cause: unknown) {
    super(`${command}: ${stderr.trim() || (errorMessage(cause))}`, { cause });
    this.name = 'CommandError';
  }
}

/** Runs a program (no shell), tracked so a second signal can kill it; rejects with its stderr. */
export function run(file: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (e, stdout, stderr) => {
      children.delete(child);
      if (e) reject(new CommandError(`${file} ${args.join(' ')}`, stderr, e));
      else resolve(stdout);
    });
    children.add(child);
  });
}

const started = performance.now();
/** Progress goes to stderr: stdout holds the table and the JSON line. */
export function progress(line: string): void {
  console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

/** Wall-clock milliseconds with sub-millisecond precision (comparable with ovn-installed-ts and ping -D). */
export const wallMs = (): number => performance.timeOrigin + performance.now();
