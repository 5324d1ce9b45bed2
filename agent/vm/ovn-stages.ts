// A VM's OVN steps for the kernel executor: its port goes untagged on OVN's integration bridge
// (external_ids:ovn-bridge, default br-int) with iface-id = the logical switch port's name, and the
// VM is ready once ovn-controller marked the port's Interface ovn-installed="true". The wait is
// registered with the agent's one OVN monitor before the port is added, so no update is missed.
import { errorMessage } from '@merak/common';
import { OvnBridgeMissingError, OvnNotConfiguredError } from '../ovn/errors.js';
import type { InstallWait, OvnIntegration } from '../ovn/installed-watcher.js';
import type { PortCommitter } from './port-committer.js';
import type { VmSpec } from './spec.js';
import { type Stage, type StepTimer, VmFailure, codeOf } from './stages.js';

/** Step: the port committed (vswitchd gave it an ofport) -> ovn-installed seen on its Interface. */
export const INSTALLED_STEP = 'installed';

/** What the kernel executor needs for OVN VMs. */
export interface OvnDeps {
  readonly watcher: {
    integration(): Promise<OvnIntegration>;
    expect(name: string, opts: { fresh: boolean }): Promise<InstallWait>;
  };
  /** Commits ports on the bridge each change names (outside the agent's overlay: OVN ports have no VNI). */
  readonly ports: PortCommitter;
}

export interface OvnCtx {
  readonly spec: VmSpec;
  readonly timer: StepTimer;
  /** OVN's bridge, once resolved: where the port goes. */
  ovnBridge?: string;
  wait?: InstallWait;
  /** When vswitchd applied the port (process.hrtime). */
  committedAt?: bigint;
}

/**
 * OVN's bridge, where the port goes: refuses a vhost where ovn-controller is not configured or its
 * bridge does not exist (the port would wait for an ovn-installed nobody sets).
 */
export async function resolveOvnBridge(deps: OvnDeps): Promise<string> {
  const at = await deps.watcher.integration();
  if (!at.configured) throw new OvnNotConfiguredError();
  if (!at.bridgeExists) throw new OvnBridgeMissingError(at.bridge);
  return at.bridge;
}

/**
 * Before the port is added: the bridge, and the wait for ovn-installed (fresh: an earlier port of
 * the same name that the monitor still sees does not count).
 */
export async function prepareOvnPort(deps: OvnDeps, ctx: OvnCtx): Promise<string> {
  const bridge = await resolveOvnBridge(deps);
  ctx.ovnBridge = bridge;
  ctx.wait = await deps.watcher.expect(ctx.spec.portName, { fresh: true });
  return bridge;
}

/** The port's add resolved: the installed step's clock starts. */
export function markCommitted(ctx: OvnCtx): void {
  ctx.committedAt ??= process.hrtime.bigint();
}

const micros = (since: bigint): number => Number((process.hrtime.bigint() - since) / 1000n);

/** Waits for ovn-installed within spec.ovn.timeout_ms of the commit; records step `installed`. */
export const installedStage: Stage<OvnCtx> = {
  name: INSTALLED_STEP,
  selfTimed: true,
  run: async (ctx) => {
    const since = ctx.committedAt ?? process.hrtime.bigint();
    const timeoutMs = ctx.spec.ovn!.timeoutMs;
    try {
      await ctx.wait!.until(timeoutMs, ctx.spec.ifaceId ?? '', micros(since) / 1000);
    } catch (e) {
      ctx.timer.record(INSTALLED_STEP, micros(since));
      throw new VmFailure(codeOf(e), INSTALLED_STEP, errorMessage(e), { cause: e });
    }
    ctx.timer.record(INSTALLED_STEP, micros(since));
  },
};

/**
 * A VM found in place (a resend): ready once its port is installed (at once when it is). No step is
 * recorded: the VM's installed time was measured by the create that made it.
 */
export async function awaitInstalledInPlace(deps: OvnDeps, spec: VmSpec): Promise<void> {
  try {
    const wait = await deps.watcher.expect(spec.portName, { fresh: false });
    await wait.until(spec.ovn!.timeoutMs, spec.ifaceId ?? '');
  } catch (e) {
    throw new VmFailure(codeOf(e), INSTALLED_STEP, errorMessage(e), { cause: e });
  }
}
