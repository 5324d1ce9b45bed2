// After a restart, asks Alcor's NCM for this host's goal states (RequestGoalStates with
// AGENT_RESTARTED). The NCM pushes them over PushGoalStatesStream and answers only after that,
// so once the answer is SUCCESS every neighbor the agent recovered but was not re-sent is stale.
// Real NCM barely implements this request; the Alcor-compatible server does as the protocol means.
import { Metadata, credentials } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';

/** The metadata key naming the asking host (NCM otherwise guesses it from the peer address). */
export const NODE_NAME_METADATA = 'merak-node-name';

export interface RestartRequestOptions {
  /** HOST:PORT of the NCM's GoalStateProvisioner. */
  readonly ncm: string;
  /** This host's node name in Alcor (the vhost name). */
  readonly nodeName: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Attempts before giving up; between them 1 s doubling to 30 s. */
  readonly attempts?: number;
}

/** Resolves true when the NCM answered SUCCESS, false when it said FAILURE or could not be reached. */
export async function requestRestartState(o: RestartRequestOptions): Promise<boolean> {
  const client = new alcor.GoalStateProvisionerClient(o.ncm, credentials.createInsecure());
  const attempts = o.attempts ?? 10;
  try {
    for (let attempt = 0; attempt < attempts && !o.signal.aborted; attempt++) {
      const requestId = randomUUID();
      const md = new Metadata();
      md.set(NODE_NAME_METADATA, o.nodeName);
      try {
        const reply = await new Promise<alcor.HostRequestReply>((resolve, reject) => {
          const call = client.requestGoalStates(
            { formatVersion: 1, stateRequests: [{ requestType: alcor.RequestType.AGENT_RESTARTED, requestId, tunnelId: 0, sourceIp: '', sourcePort: 0, destinationIp: '', destinationPort: 0, ethertype: alcor.EtherType.IPV4, protocol: alcor.Protocol.TCP }] },
            md, { deadline: Date.now() + 10 * 60_000 },
            (err, res) => (err ? reject(err) : resolve(res)),
          );
          o.signal.addEventListener('abort', () => call.cancel(), { once: true });
        });
        const ok = reply.operationStatuses.some((s) => s.requestId === requestId && s.operationStatus === alcor.OperationStatus.SUCCESS);
        o.logger.info({ ncm: o.ncm, ok }, ok ? 'NCM re-pushed this host\'s goal states' : 'NCM could not re-push this host\'s goal states');
        return ok;
      } catch (e) {
        if (o.signal.aborted) break;
        const wait = Math.min(30_000, 1000 * 2 ** attempt);
        o.logger.warn({ ncm: o.ncm, err: errorMessage(e), retryInMs: wait }, 'RequestGoalStates to the NCM failed');
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
    return false;
  } finally {
    client.close();
  }
}
