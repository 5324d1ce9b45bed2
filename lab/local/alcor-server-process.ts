// The Alcor-compatible test server (test/alcor, built to test/dist/alcor/main.js) as a child
// process we own, for a run in Alcor mode on this machine: one listener for every service, the
// NCM's GoalState push on, ready at its JSON "listening" line, which says where it listens. It is
// recorded in a file so that `merak local down` stops it too when the run that started it could not.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MerakError } from '@merak/common';
import { type NodeProcess, startNodeProcess } from './node-process.js';
import { type ProcessRecord, recordOf, stopRecorded } from './process-record.js';

/** Where the build puts the server: test/dist/alcor/ beside the lab's package in the repository. */
export function alcorServerMainPath(): string {
  const lab = dirname(createRequire(import.meta.url).resolve('@merak/lab/package.json'));
  return join(dirname(lab), 'test', 'dist', 'alcor', 'main.js');
}

export class AlcorServerMissingError extends MerakError {
  constructor(readonly path: string) {
    super('FAILED_PRECONDITION', `the Alcor-compatible server is not built (${path} is missing): build the repository first (npx tsc -b, or npm run demo, which builds)`);
  }
}

export interface AlcorServerProcessOptions {
  /** The address to listen on (the local emulation's host address, so the vhosts reach it). */
  readonly host: string;
  /** The NCM port its GoalState push comes from and agents ask after a restart. */
  readonly ncmPort: number;
  readonly seed: number;
  readonly logFile: string;
  /** A file recording the process (for a later `local down`). */
  readonly recordFile: string;
}

export interface AlcorServerProcess {
  readonly pid: number;
  /** Base URL per service (one listener: the same URL six times). */
  readonly urls: Readonly<Record<string, string>>;
  /** Stops it (SIGTERM, then SIGKILL) and forgets its record. */
  stop(): Promise<void>;
  /** SIGTERM at once, without waiting (from a signal handler). */
  signalStop(): void;
}

interface ListeningLine {
  readonly msg?: string;
  readonly urls?: Record<string, string>;
}

export async function startAlcorServerProcess(o: AlcorServerProcessOptions): Promise<AlcorServerProcess> {
  const script = alcorServerMainPath();
  if (!existsSync(script)) throw new AlcorServerMissingError(script);
  const proc: NodeProcess = await startNodeProcess({
    what: 'the Alcor-compatible server', script, logFile: o.logFile, readyText: '"msg":"listening"',
    args: ['--host', o.host, '--port', '0', '--seed', String(o.seed), '--ncm-port', String(o.ncmPort)],
  });
  const record = recordOf(proc.pid);
  if (record) writeFileSync(o.recordFile, `${JSON.stringify(record)}\n`);
  const stop = async (): Promise<void> => {
    await proc.stop(5000);
    rmSync(o.recordFile, { force: true });
  };
  const line = readFileSync(o.logFile, 'utf8').split('\n').reverse().map(parseLine).find((l) => l?.msg === 'listening');
  if (!line?.urls || typeof line.urls.port !== 'string') {
    await stop();
    throw new Error(`the Alcor-compatible server's "listening" line names no URLs; see ${o.logFile}`);
  }
  return {
    pid: proc.pid, urls: line.urls, stop,
    signalStop: () => {
      if (proc.alive()) process.kill(proc.pid, 'SIGTERM');
    },
  };
}

function parseLine(text: string): ListeningLine | undefined {
  try {
    return JSON.parse(text) as ListeningLine;
  } catch {
    return undefined;
  }
}

/** Stops a server an earlier run recorded in `recordFile` (gone already: nothing to do). */
export async function stopRecordedAlcorServer(recordFile: string): Promise<{ what: string; how: string } | undefined> {
  if (!existsSync(recordFile)) return undefined;
  const record = parseLine(readFileSync(recordFile, 'utf8')) as ProcessRecord | undefined;
  if (!record || typeof record.pid !== 'number') {
    rmSync(recordFile, { force: true });
    return undefined;
  }
  const how = await stopRecorded(record, 5000);
  if (how !== 'survived') rmSync(recordFile, { force: true });
  return { what: `Alcor-compatible server (pid ${record.pid})`, how };
}
