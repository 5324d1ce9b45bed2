// The executors are built with the backend, before the GoalState host agent exists (it needs the
// backend's data plane): they get this slot, which the agent fills once its GoalState server runs.
import { MerakError } from '@merak/common';
import type { PortProgrammed, PortProgramming } from '../vm/port-programming.js';

export class GoalStateSlot implements PortProgramming {
  private target: PortProgramming | undefined;

  attach(target: PortProgramming): void {
    this.target = target;
  }

  programmed(portId: string, opts: { sinceMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<PortProgrammed> {
    if (!this.target) {
      return Promise.reject(new MerakError('FAILED_PRECONDITION', `port ${portId}: this agent does not serve GoalState (start it with --goalstate) and cannot wait for the port to be programmed`));
    }
    return this.target.programmed(portId, opts);
  }
}
