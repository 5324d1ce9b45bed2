// What the agent does for InjectFault (a scenario's `faults:`): the faults only something on the
// vhost can cause, wherever the coordinator runs (docs/faults.md). Each is answered before it acts
// where acting would cut the answer off (the agent's own SIGKILL), and says what it did.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError, MerakError, errorMessage } from '@merak/common';
import { UnixctlClient, vswitchdControlPath } from '../vswitch/unixctl.js';

/** The longest an underlay stays down: a fault never outlives the run by much. */
const MAX_DOWN_MS = 3_600_000;
/** The answer goes out before the kill: the stream write needs a turn of the event loop or two. */
const KILL_DELAY_MS = 50;
/** How long an ovs-restart waits for its supervisor to start ovs-vswitchd again (its backoff starts at 1 s). */
const VSWITCHD_BACK_WAIT_MS = 30_000;

export interface FaultActionDeps {
  readonly logger: Logger;
  readonly vhost: string;
  /** Sets the underlay interface down or up; undefined = this agent has no underlay (hollow, or none given). */
  readonly setUnderlayUp: ((up: boolean) => Promise<void>) | undefined;
  readonly underlayInterface: string | undefined;
  /** ovs-vswitchd's run directory (its control socket and pid file); undefined = no OVS (hollow). */
  readonly ovsRundir: string | undefined;
  /** Ends this process at once (SIGKILL to itself); replaceable in tests. */
  readonly killSelf?: () => void;
}

/** An InjectFault this agent cannot do (no underlay, no OVS). */
export class FaultNotPossibleError extends MerakError {
  constructor(action: string, why: string) {
    super('FAILED_PRECONDITION', `${action}: ${why}`, { context: { action } });
  }
}

export type InjectFault = (req: agentV1.InjectFaultRequest) => Promise<agentV1.InjectFaultResponse>;

export function createFaultActions(deps: FaultActionDeps): InjectFault {
  const { logger } = deps;
  let restoreTimer: NodeJS.Timeout | undefined;
  const killSelf = deps.killSelf ?? ((): void => { process.kill(process.pid, 'SIGKILL'); });
  return async (req) => {
    switch (req.action) {
      case agentV1.FaultAction.FAULT_ACTION_AGENT_KILL: {
        logger.warn({ fault: 'agent-kill', pid: process.pid }, 'fault injected: SIGKILL to this agent');
        setTimeout(killSelf, KILL_DELAY_MS);
        return { detail: `SIGKILL to the agent of ${deps.vhost} (pid ${process.pid})`, pid: process.pid, backMs: 0 };
      }
      case agentV1.FaultAction.FAULT_ACTION_UNDERLAY_DOWN: {
        const set = deps.setUnderlayUp;
        if (!set || deps.underlayInterface === undefined) throw new FaultNotPossibleError('underlay down', `${deps.vhost}'s agent has no underlay interface (--underlay-interface)`);
        if (!(req.forMs > 0 && req.forMs <= MAX_DOWN_MS)) throw new InvalidArgumentError('for_ms', `${req.forMs} is not in 1..${MAX_DOWN_MS}`);
        await set(false);
        logger.warn({ fault: 'vhost-isolate', interface: deps.underlayInterface, forMs: req.forMs }, 'fault injected: underlay down');
        clearTimeout(restoreTimer);
        restoreTimer = setTimeout(() => {
          set(true).then(
            () => logger.warn({ fault: 'vhost-isolate', interface: deps.underlayInterface }, 'fault lifted: underlay up'),
            (e: unknown) => logger.error({ fault: 'vhost-isolate', err: errorMessage(e) }, 'could not set the underlay up again'),
          );
        }, req.forMs);
        return { detail: `${deps.underlayInterface} of ${deps.vhost} down for ${req.forMs} ms`, pid: 0, backMs: 0 };
      }
      case agentV1.FaultAction.FAULT_ACTION_OVS_RESTART:
        return restartVswitchd(deps);
      default:
        throw new InvalidArgumentError('action', `${req.action} is not a fault this agent knows`);
    }
  };
}

/** Tells ovs-vswitchd to exit (as `ovs-appctl exit`); its supervisor starts it again, and the agent restores its flows on reconnecting. */
async function restartVswitchd(deps: FaultActionDeps): Promise<agentV1.InjectFaultResponse> {
  if (deps.ovsRundir === undefined) throw new FaultNotPossibleError('ovs restart', `${deps.vhost}'s agent has no Open vSwitch (hollow)`);
  const pidFile = join(deps.ovsRundir, 'ovs-vswitchd.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0;
  const ctl = await UnixctlClient.connect(vswitchdControlPath(deps.ovsRundir));
  try {
    // vswitchd may close the socket before it answers: an exit that cut the answer off still went.
    await ctl.call('exit', []).catch((e: unknown) => deps.logger.info({ err: errorMessage(e) }, 'ovs-vswitchd closed its control socket on exit'));
  } finally {
    ctl.close();
  }
  const told = Date.now();
  deps.logger.warn({ fault: 'ovs-restart', pid }, 'fault injected: ovs-vswitchd told to exit');
  const back = await newVswitchd(deps.ovsRundir, pid, told + VSWITCHD_BACK_WAIT_MS);
  const backMs = back === undefined ? 0 : Math.max(1, Date.now() - told);
  deps.logger.warn({ fault: 'ovs-restart', pid: back, backMs }, back === undefined ? 'ovs-vswitchd not back within the wait' : 'ovs-vswitchd back');
  const was = pid ? ` (pid ${pid})` : '';
  return { detail: back === undefined ? `ovs-vswitchd of ${deps.vhost}${was} told to exit; not back within ${VSWITCHD_BACK_WAIT_MS / 1000} s` : `ovs-vswitchd of ${deps.vhost}${was} told to exit; back as pid ${back} after ${backMs} ms`, pid, backMs };
}

/** Waits for an ovs-vswitchd other than `old` to answer on its control socket; its pid, or undefined by `deadline`. */
async function newVswitchd(rundir: string, old: number, deadline: number): Promise<number | undefined> {
  const pidFile = join(rundir, 'ovs-vswitchd.pid');
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0;
    if (pid === 0 || pid === old) continue;
    try {
      const ctl = await UnixctlClient.connect(vswitchdControlPath(rundir), { timeoutMs: 1000 });
      try {
        await ctl.call('version', []);
        return pid;
      } finally {
        ctl.close();
      }
    } catch {
      // not answering yet: asked again
    }
  }
  return undefined;
}
