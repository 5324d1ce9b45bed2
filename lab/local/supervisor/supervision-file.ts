// supervision.json in the local folder, written by the supervisor alone: its own PID + start
// time (so `local down` can stop it first), what it is doing, and per process its restarts and
// last exit (what `local status` shows).
import { join } from 'node:path';
import { readJsonFile, writeJsonFile } from '../json-file.js';
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
  return readJsonFile<SupervisionRecord>(supervisionPath(dir));
}

export function writeSupervision(dir: string, r: SupervisionRecord): void {
  writeJsonFile(supervisionPath(dir), r);
}
