// Errors of the GoalState host agent.
import { MerakError } from '@merak/common';

/** A port's GoalState did not arrive (or could not be applied) here in time: Alcor never programmed it. */
export class GoalStateTimeoutError extends MerakError {
  constructor(readonly portId: string, readonly timeoutMs: number, detail: string) {
    super('ALCOR', `port ${portId}: no GoalState applied on this host within ${timeoutMs} ms (${detail})`, { context: { portId, timeoutMs } });
  }
}
