// The record of a local emulation, kept in its state folder: every name it derives and every
// process it starts (PID + start time), written before and after each step, so another process
// can take it all down (after Ctrl-C, a crash or SIGKILL of the launcher).
import { join } from 'node:path';
import { readJsonFile, writeJsonFile } from './json-file.js';
import type { AgentGroupRecord } from './agent-groups.js';
import type { OvnCentralRecord } from './ovn-central.js';
import type { ProcessRecord } from './process-record.js';

export const STATE_FILE = 'emulation.json';

export interface VhostRecord {
  readonly name: string;
  /** Its network namespace (= name). */
  readonly netns: string;
  readonly dir: string;
  /** The root-namespace end of its underlay veth. */
  readonly hostVeth: string;
  readonly underlayIp: string;
  readonly dbSocket: string;
  readonly dbFile: string;
  readonly grpcAddress: string;
  readonly httpSocket: string;
  /** The agent's flags once it started (a supervisor restarts it with the same). */
  agentArgs?: readonly string[];
  /** ovnController: with OVN on (its control socket is <dir>/ovs/ovn-controller.<pid>.ctl). */
  processes: { ovsdbServer?: ProcessRecord; vswitchd?: ProcessRecord; agent?: ProcessRecord; ovnController?: ProcessRecord };
}

export interface EmulationState {
  readonly version: 1;
  readonly prefix: string;
  readonly stateDir: string;
  readonly bridge: string;
  readonly underlayCidr: string;
  readonly tokenFile: string;
  readonly coordinator: string | undefined;
  readonly createdAtUnixMs: number;
  readonly vhosts: VhostRecord[];
  /** OVN central, with OVN on (`ovn: true`); absent otherwise. */
  readonly ovn?: OvnCentralRecord;
  /** Agent processes serving several vhosts (agentsPerProcess > 1); absent otherwise. */
  readonly agentGroups?: AgentGroupRecord[];
}

export function statePath(stateDir: string): string {
  return join(stateDir, STATE_FILE);
}

/** Atomically: a reader never sees half a file. */
export function writeState(state: EmulationState): void {
  writeJsonFile(statePath(state.stateDir), state);
}

export function readState(stateDir: string): EmulationState | undefined {
  const file = statePath(stateDir);
  const state = readJsonFile<EmulationState>(file);
  if (state === undefined) return undefined;
  if (state.version !== 1 || !Array.isArray(state.vhosts)) throw new Error(`${file} is not a Merak local emulation record`);
  return state;
}
