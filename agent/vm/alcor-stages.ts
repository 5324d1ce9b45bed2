// A VM's Alcor steps, the same for the kernel and the hollow executor: Alcor allocates the port
// (its IP and MAC), the port is bound to this host, and released on delete or rollback. Every
// call is recorded on the VM's timer for its result and the report. When this agent serves
// GoalState and the coordinator registered it so, the bind is done only once Alcor's GoalState for
// the port has been applied here: that is when the VM's network exists.
import { AlcorPorts, type AllocatedPort } from './alcor-ports.js';
import { MerakError, errorMessage } from '@merak/common';
import type { PortProgramming } from './port-programming.js';
import type { VmSpec } from './spec.js';
import { type Stage, type StepTimer, VmFailure, codeOf } from './stages.js';

export interface AlcorCtx {
  readonly spec: VmSpec;
  readonly timer: StepTimer;
  /** The create may have run before (a resend): look for the port before making one. */
  readonly maybeExists: boolean;
  /** The agent's GoalState server, when it runs one (--goalstate). */
  readonly goalState?: PortProgramming;
  readonly signal?: AbortSignal;
  port?: AllocatedPort;
}

/** Steps of the GoalState wait (microseconds): bind sent -> port applied here, and its last part. */
export const GOALSTATE_STEP = 'goalstate';
/** GoalState received -> applied on this host (the host agent's programming alone). */
export const GOALSTATE_APPLY_STEP = 'goalstate-apply';

function portsOf(ctx: AlcorCtx): AlcorPorts {
  const settings = ctx.spec.alcor;
  if (!settings) throw new MerakError('INTERNAL', `VM ${ctx.spec.id} has no Alcor settings`);
  return new AlcorPorts(settings, ctx.timer.onCall);
}

export const allocateStage: Stage<AlcorCtx> = {
  name: 'allocate',
  run: async (ctx) => {
    ctx.port = await portsOf(ctx).allocate(ctx.spec.name, ctx.maybeExists);
  },
  undo: async (ctx) => {
    await portsOf(ctx).release();
  },
};

/**
 * Step `bind` is the PUT alone. With a wait, step `goalstate` runs from the moment the PUT was sent
 * to the moment the port's GoalState was applied here (Alcor answers the bind only after its
 * push, so the two overlap), and a GoalState that never comes fails the VM at `goalstate`.
 */
export const bindStage: Stage<AlcorCtx> = {
  name: 'bind',
  selfTimed: true,
  run: async (ctx) => {
    const sinceMs = Date.now();
    await ctx.timer.time('bind', () => portsOf(ctx).bind(ctx.spec.name, ctx.port));
    const settings = ctx.spec.alcor!;
    if (!ctx.goalState || !settings.awaitGoalState) return;
    try {
      const done = await ctx.goalState.programmed(settings.portId, { sinceMs, timeoutMs: settings.timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
      ctx.timer.record(GOALSTATE_STEP, (done.appliedAtMs - sinceMs) * 1000);
      ctx.timer.record(GOALSTATE_APPLY_STEP, (done.appliedAtMs - done.receivedAtMs) * 1000);
    } catch (e) {
      ctx.timer.record(GOALSTATE_STEP, (Date.now() - sinceMs) * 1000);
      throw new VmFailure(codeOf(e), GOALSTATE_STEP, errorMessage(e), { cause: e });
    }
  },
};

/** On delete: the VM's port goes first, so Alcor stops programming it before the host drops it. */
export async function releasePort(spec: VmSpec, timer: StepTimer): Promise<void> {
  await timer.time('release', () => portsOf({ spec, timer, maybeExists: true }).release());
}
