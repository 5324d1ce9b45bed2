// What `merak local up` records in its folder beside the emulation's own record: where its
// coordinator listens (other commands find it there), the settings it was made with, and how its
// coordinator runs (PID + start time, and its command line, so that it can be started again).
import { join } from 'node:path';
import { readJsonFile, writeJsonFile } from './json-file.js';
import type { ProcessRecord } from './process-record.js';

export const ENDPOINT_FILE = 'endpoint.json';
/** The emulation's own state folder inside the local folder. */
export const EMULATION_DIR = 'emulation';

/** The settings of a local emulation (what `local up` was asked for). */
export interface LocalSettings {
  readonly prefix: string;
  readonly hosts: number;
  /** The underlay asked for (undefined: the first free TEST-NET range). */
  readonly underlayCidr?: string | undefined;
  readonly hostAccess?: boolean | undefined;
  readonly dataplane?: 'neighbors' | 'flood' | undefined;
  readonly ovn?: boolean | undefined;
  /** Vhosts per agent process (undefined: 1, each its own). */
  readonly agentsPerProcess?: number | undefined;
  /** Each process's /metrics relayed to 127.0.0.1 from this port up (metrics-relay.ts); undefined: none. */
  readonly metricsPort?: number | undefined;
}

/** The coordinator's command line, as startCoordinatorProcess takes it. */
export interface CoordinatorLaunch {
  readonly listen: string;
  readonly http: string;
  readonly state: string;
  readonly tokenFile: string;
  readonly logFile: string;
  readonly extraArgs: readonly string[];
}

export interface LocalRecord {
  /** unix:PATH of the coordinator (what `connect` reads). */
  readonly coordinator: string;
  readonly tokenFile: string;
  readonly prefix: string;
  readonly hosts: number;
  readonly settings: LocalSettings;
  readonly coordinatorLaunch: CoordinatorLaunch;
  coordinatorProcess: ProcessRecord;
  /** This machine's address on the underlay (with hostAccess). */
  readonly hostIp?: string | undefined;
  readonly startedAt: string;
}

export const endpointPath = (dir: string): string => join(dir, ENDPOINT_FILE);

export function readLocalRecord(dir: string): LocalRecord | undefined {
  return readJsonFile<LocalRecord>(endpointPath(dir));
}

/** Atomically: `status` and `connect` never read half a file. */
export function writeLocalRecord(dir: string, r: LocalRecord): void {
  writeJsonFile(endpointPath(dir), r);
}
