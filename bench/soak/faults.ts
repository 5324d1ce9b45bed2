// Injecting one fault between cycles. Processes are killed by their recorded PID (checked against
// the recorded start time, so a reused PID is never hit); Alcor errors are a rule of the
// Alcor-compatible server's fault API, removed once the cycle is done.
import { join } from 'node:path';
import type { ProcessRecord } from '../../lab/local/process-record.js';
import { type Soak, SoakError, sleep } from './context.js';
import type { FaultKind } from './options.js';

export interface InjectedFault {
  readonly kind: FaultKind;
  readonly what: string;
  /** A process fault: the emulation must heal before the cycle. */
  readonly needsHeal: boolean;
  /** Undoes what lasts (the Alcor rule); nothing for a process fault. */
  readonly clear: () => void;
}

async function kill(s: Soak, r: ProcessRecord | undefined, what: string): Promise<void> {
  if (!r || !s.m.processes.signalRecorded(r, 'SIGKILL')) throw new SoakError(`cannot inject: the ${what} is not running`);
  // Gone (reaped by its supervisor) before the heal is watched, so the watch sees it down first.
  for (let i = 0; i < 100 && s.m.processes.isRunning(r); i++) await sleep(50);
}

export async function injectFault(s: Soak, kind: FaultKind, n: number): Promise<InjectedFault> {
  const state = s.m.state.readState(join(s.dir, s.m.record.EMULATION_DIR));
  const record = s.m.record.readLocalRecord(s.dir);
  if (!state || !record) throw new SoakError(`no emulation recorded in ${s.dir}`);
  const vhost = state.vhosts[n % state.vhosts.length]!;
  const none = (): void => undefined;
  switch (kind) {
    case 'agent-kill':
      await kill(s, vhost.processes.agent, `agent of ${vhost.name}`);
      return { kind, what: `SIGKILL to the agent of ${vhost.name} (pid ${vhost.processes.agent!.pid})`, needsHeal: true, clear: none };
    case 'coordinator-kill':
      await kill(s, record.coordinatorProcess, 'coordinator');
      return { kind, what: `SIGKILL to the coordinator (pid ${record.coordinatorProcess.pid})`, needsHeal: true, clear: none };
    case 'vswitchd-restart':
      await kill(s, vhost.processes.vswitchd, `ovs-vswitchd of ${vhost.name}`);
      return { kind, what: `SIGKILL to ovs-vswitchd of ${vhost.name} (pid ${vhost.processes.vswitchd!.pid})`, needsHeal: true, clear: none };
    case 'alcor-errors': {
      const rule = s.alcor.faults.add({
        action: { kind: 'status', status: 500, message: 'injected by the soak' },
        limit: { kind: 'first-per-endpoint', n: 1 },
      });
      return { kind, what: 'the Alcor-compatible server answers 500 once on each endpoint', needsHeal: false, clear: () => s.alcor.faults.remove(rule.id) };
    }
  }
}
