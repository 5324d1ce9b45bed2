// A supervised emulation as a LocalEmulation, for the process that ran `local up` (tests, demos):
// built from the records, its processes run under the supervisor. Killing an agent is a crash the
// supervisor answers; restartAgent waits for that answer (or asks for it: SIGTERM).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MerakError } from '@merak/common';
import { AgentClient } from '../agent-client/agent-client.js';
import { type EmulatedVhost, type LocalEmulation, type LocalOvn, type TeardownReport } from './emulation.js';
import { type EmulationState, type VhostRecord, readState } from './emulation-state.js';
import { EMULATION_DIR, type LocalRecord } from './local-record.js';
import { type ProcessRecord, isRunning, signalRecorded } from './process-record.js';

export class EmulationViewError extends MerakError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

const RESTART_TIMEOUT_MS = 120_000;

async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs = RESTART_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new EmulationViewError(`${what}: not after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function supervisedEmulation(dir: string, local: LocalRecord, stop: () => Promise<TeardownReport>): LocalEmulation {
  const stateDir = join(dir, EMULATION_DIR);
  const first = readState(stateDir);
  if (!first) throw new EmulationViewError(`no emulation is recorded in ${stateDir}`);
  const token = readFileSync(local.tokenFile, 'utf8').trim();
  const vhostNow = (name: string): VhostRecord => {
    const v = readState(stateDir)?.vhosts.find((x) => x.name === name);
    if (!v) throw new EmulationViewError(`vhost ${name} is no longer recorded in ${stateDir}`);
    return v;
  };
  const vhosts = first.vhosts.map((rec, index): EmulatedVhost => {
    let client = new AgentClient(rec.grpcAddress, { token });
    const pidOf = (kind: keyof VhostRecord['processes']): number => vhostNow(rec.name).processes[kind]?.pid ?? 0;
    /** Waits for a running process of `kind` other than `old`, recorded by the supervisor. */
    const replaced = (kind: keyof VhostRecord['processes'], old: ProcessRecord | undefined): Promise<ProcessRecord> =>
      waitFor(`${kind} of ${rec.name} started again by the supervisor`, () => {
        const r = vhostNow(rec.name).processes[kind];
        return r && r.pid !== old?.pid && isRunning(r) ? r : undefined;
      });
    const kill = async (kind: keyof VhostRecord['processes']): Promise<ProcessRecord | undefined> => {
      const r = vhostNow(rec.name).processes[kind];
      if (r && signalRecorded(r, 'SIGKILL')) await waitFor(`${kind} of ${rec.name} to end`, () => (isRunning(r) ? undefined : true), 10_000);
      return r;
    };
    let killedAgent: ProcessRecord | undefined;
    return {
      name: rec.name, index, underlayIp: rec.underlayIp, grpcAddress: rec.grpcAddress, httpSocket: rec.httpSocket, dbSocket: rec.dbSocket, dir: rec.dir,
      get client() { return client; },
      get agentPid() { return pidOf('agent'); },
      async killAgent() { killedAgent = await kill('agent'); },
      async restartAgent() {
        // Killed before: the supervisor brings it back by itself. Running: SIGTERM, and it does the same.
        let old = killedAgent;
        const now = vhostNow(rec.name).processes.agent;
        if (!old && now && isRunning(now)) {
          signalRecorded(now, 'SIGTERM');
          old = now;
        }
        killedAgent = undefined;
        await replaced('agent', old);
        client.close();
        client = new AgentClient(rec.grpcAddress, { token });
        await client.connect(30_000);
      },
      get vswitchdPid() { return pidOf('vswitchd'); },
      async restartVswitchd() { await replaced('vswitchd', await kill('vswitchd')); },
      get ovnControllerPid() { return vhostNow(rec.name).processes.ovnController?.pid; },
    };
  });
  return {
    prefix: first.prefix, stateDir, bridge: first.bridge, underlayCidr: first.underlayCidr, hostIp: local.hostIp, tokenFile: local.tokenFile, token, vhosts,
    ovn: first.ovn ? ovnView(stateDir) : undefined,
    async stop() {
      for (const v of vhosts) v.client.close();
      return stop();
    },
  };
}

function ovnView(stateDir: string): LocalOvn {
  const c = (): NonNullable<EmulationState['ovn']> => readState(stateDir)!.ovn!;
  const first = c();
  return {
    nb: first.nb.unix, nbTcp: first.nb.tcp, sb: first.sb.unix, sbTcp: first.sb.tcp, netns: first.netns, underlayIp: first.underlayIp, dir: first.dir, northdCtl: first.northdCtl,
    get pids() {
      const p = c().processes;
      return { nb: p.nb?.pid ?? 0, sb: p.sb?.pid ?? 0, northd: p.northd?.pid ?? 0 };
    },
  };
}
