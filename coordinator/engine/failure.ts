// What made a run fail, for its report: the run's step (from the phase it was in) and, when the
// failure was a call to a control plane or an agent, that call as the other side answered it
// (report/failed-call.ts). Errors are matched by type, along their causes: a provider may wrap
// the call's error in its own.
import { errorMessage } from '@merak/common';
import { ControlPlaneError } from '../providers/provider.js';
import { failedCallOf } from '../report/failed-call.js';
import type { FailedCall, RunFailure } from '../report/run-summary.js';
import type { Phase } from './run-state.js';

const STEP_OF: Readonly<Record<Phase, string>> = {
  pending: 'admission', network: 'network set-up', creating: 'VM creation', testing: 'ping test',
  ready: 'run', failed: 'run', deleting: 'teardown', deleted: 'teardown',
};

/** The run's step a phase stands for ("network set-up"). */
export const stepOf = (phase: Phase): string => STEP_OF[phase];

/** The errors along `e`'s causes, `e` first (bounded: a cause may point back). */
function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let x: unknown = e; x !== undefined && out.length < 8 && !out.includes(x); x = x instanceof Error ? x.cause : undefined) out.push(x);
  return out;
}

export function describeFailure(e: unknown, phase: Phase): RunFailure {
  const errors = chain(e);
  let call: FailedCall | undefined;
  for (const x of errors) if ((call = failedCallOf(x))) break;
  const leftovers = errors.find((x): x is ControlPlaneError => x instanceof ControlPlaneError)?.leftovers ?? [];
  return {
    step: stepOf(phase), phase, message: errorMessage(e),
    ...(call ? { call } : {}), ...(leftovers.length > 0 ? { leftovers } : {}),
  };
}
