// Why a RequestGoalStates could not be served: the asking host is not one known node.
import { MerakError } from '@merak/common';

/** No node, or more than one, matches the node name or peer address of a RequestGoalStates. */
export class HostIdentificationError extends MerakError {
  constructor(message: string, context: { nodeName?: string; peerIp?: string; matches: number }) {
    super(context.matches === 0 ? 'NOT_FOUND' : 'FAILED_PRECONDITION', message, { context });
  }
}
