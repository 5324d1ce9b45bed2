// A VM's Alcor steps, the same for the kernel and the hollow executor: Alcor allocates the port
// (its IP and MAC), the port is bound to this host, and released on delete or rollback. Every
// call is recorded on the VM's timer for its result and the report.
import { AlcorPorts, type AllocatedPort } from '../alcor/port-client.js';
import { MerakError } from '../errors.js';
import type { VmSpec } from './spec.js';
import type { Stage, StepTimer } from './stages.js';

export interface AlcorCtx {
  readonly spec: VmSpec;
  readonly timer: StepTimer;
  /** The create may have run before (a resend): look for the port before making one. */
  readonly maybeExists: boolean;
  port?: AllocatedPort;
}

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

export const bindStage: Stage<AlcorCtx> = {
  name: 'bind',
  run: async (ctx) => {
    await portsOf(ctx).bind(ctx.spec.name);
  },
};

/** On delete: the VM's port goes first, so Alcor stops programming it before the host drops it. */
export async function releasePort(spec: VmSpec, timer: StepTimer): Promise<void> {
  await timer.time('release', () => portsOf({ spec, timer, maybeExists: true }).release());
}
