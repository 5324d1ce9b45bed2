// supervision.json in the local folder, written by the supervisor alone: its own PID + start
// time (so `local down` can stop it first), what it is doing, and per process its restarts and
// last exit (what `local status` shows).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessRecord } from '../process-record.js';

export const SUPERVISION_FILE = 'supervision.json';

export interface LastExit {
  /** null and null: it ended while no supervisor of ours was its parent (status unknown). */
  readonly code: number | null;
  readonly signal: string | null;
  readonly atUnixMs: number;
}

export interface UnitStatus {
  restarts: number;
  lastExit?: LastExit | undefined;
  /** Why the last start failed (cleared by a good one). */
  lastError?: string | undefined;
  /** When the next start is due, while it is down. */
  nextStartAtUnixMs?: number | undefined;
}

export type SupervisorPhase = 'launching' | 'healing' | 'supervising' | 'failed' | 'stopped';

export interface SupervisionRecord {
  readonly version: 1;
  readonly supervisor: ProcessRecord;
  phase: SupervisorPhase;
  /** With phase 'failed': why (a launch that failed). */
  error?: string | undefined;
  readonly units: Record<string, UnitStatus>;
}

export const supervisionPath = (dir: string): string => join(dir, SUPERVISION_FILE);

export function readSupervision(dir: string): SupervisionRecord | undefined {
  const file = supervisionPath(dir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as SupervisionRecord;
}

export function writeSupervision(dir: string, r: SupervisionRecord): void {
  const file = supervisionPath(dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
