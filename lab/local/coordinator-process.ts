// Runs a coordinator (coordinator/dist/main.js) as a child process we own: the local emulation's,
// and tests' that kill it. Ready = its "coordinator ready" log line.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type NodeProcess, startNodeProcess } from './node-process.js';

export interface CoordinatorProcessOptions {
  /** gRPC address (unix:PATH for local use). */
  readonly listen: string;
  readonly http: string;
  readonly state: string;
  readonly tokenFile: string;
  readonly logFile: string;
  readonly extraArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** Called with the PID right after the spawn (to record it before readiness). */
  readonly onSpawn?: (pid: number) => void;
}

export type CoordinatorProcess = NodeProcess;

/** The built coordinator (from the package, so it is found from sources under test too). */
export function coordinatorMainPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@merak/coordinator/package.json')), 'dist', 'main.js');
}

export function startCoordinatorProcess(opts: CoordinatorProcessOptions): Promise<CoordinatorProcess> {
  return startNodeProcess({
    what: 'coordinator', script: coordinatorMainPath(), logFile: opts.logFile, readyText: '"msg":"coordinator ready"',
    args: ['--listen', opts.listen, '--http', opts.http, '--state', opts.state, '--token-file', opts.tokenFile, ...(opts.extraArgs ?? [])],
    ...(opts.readyTimeoutMs !== undefined ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
    ...(opts.onSpawn !== undefined ? { onSpawn: opts.onSpawn } : {}),
  });
}
