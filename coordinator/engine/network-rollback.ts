// A network set-up that fails half-way removes what it made before the run is called failed: the
// control plane under test is left as it was, and the report lists what was made and taken back.
import { errorMessage } from '@merak/common';
import type { ControlPlane, ScenarioContext } from '../providers/provider.js';
import { ControlPlaneError } from '../providers/provider.js';
import type { ControlPlaneObject } from '../report/run-summary.js';
import type { Store } from '../store/store.js';
import type { Run } from './run-state.js';

/** Tears down what `run`'s failed set-up recorded; records on `run` what it had made. Never throws. */
export async function rollBackNetwork(run: Run, ctx: ScenarioContext, cp: ControlPlane, store: Store, event: (kind: string, message: string) => void): Promise<void> {
  const made: ControlPlaneObject[] = store.controlPlaneObjects(run.row.seq).map((x) => ({ kind: x.kind, name: x.name, id: x.remoteId }));
  run.rolledBack = made;
  if (made.length === 0) return;
  event('rollback', `network set-up failed: removing the ${made.length} objects it made`);
  try {
    await cp.tearDown(ctx);
    event('rollback', 'removed');
  } catch (e) {
    // What could not go stays recorded: the report lists it as left behind, `merak delete` retries.
    const left = e instanceof ControlPlaneError ? e.leftovers.length : undefined;
    ctx.logger.warn({ scenario: run.id, err: e }, 'rolling back a failed network set-up left objects behind');
    event('rollback', `not everything could be removed${left !== undefined ? ` (${left} left)` : ''}: ${errorMessage(e)}`);
  }
}
