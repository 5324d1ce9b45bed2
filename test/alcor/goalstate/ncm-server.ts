// The NCM's own GoalStateProvisioner endpoint (Alcor's port 9016), serving only RequestGoalStates:
// a host agent asks for its goal states and gets them pushed back before the answer. The other
// methods answer UNIMPLEMENTED (DPM→NCM pushes do not exist here: this server is DPM and NCM).
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import { errorMessage } from '@merak/common';
import type { Logger } from 'pino';

/** The metadata key with which Merak's agent names itself (its vhost name = node_name). */
export const NODE_NAME_METADATA = 'merak-node-name';

export interface NcmServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves one HostRequest from the host named `nodeName` (metadata) or at `peer` ("ip:port"). */
export type HostRequestHandler = (request: alcor.HostRequest, nodeName: string | undefined, peer: string) => Promise<alcor.HostRequestReply>;

const unimplemented = (what: string) => ({ code: status.UNIMPLEMENTED, details: `${what} is not served by this NCM` });

export async function startNcmServer(host: string, port: number, handle: HostRequestHandler, logger?: Logger): Promise<NcmServer> {
  const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const impl: alcor.GoalStateProvisionerServer = {
    requestGoalStates(call: ServerUnaryCall<alcor.HostRequest, alcor.HostRequestReply>, callback: sendUnaryData<alcor.HostRequestReply>): void {
      const named = call.metadata.get(NODE_NAME_METADATA)[0];
      const nodeName = named === undefined ? undefined : String(named);
      handle(call.request, nodeName, call.getPeer()).then(
        (reply) => callback(null, reply),
        (e: unknown) => {
          logger?.error({ err: e }, 'RequestGoalStates failed');
          callback({ code: status.INTERNAL, details: errorMessage(e) });
        },
      );
    },
    pushGoalStatesStream(call: ServerDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply>): void {
      call.emit('error', unimplemented('PushGoalStatesStream'));
    },
    pushNetworkResourceStates(_call: ServerUnaryCall<alcor.GoalState, alcor.GoalStateOperationReply>, callback: sendUnaryData<alcor.GoalStateOperationReply>): void {
      callback(unimplemented('PushNetworkResourceStates'));
    },
    pushGoalstates(_call: ServerUnaryCall<alcor.NeighborRulesRequest, alcor.GoalStateOperationReply>, callback: sendUnaryData<alcor.GoalStateOperationReply>): void {
      callback(unimplemented('PushGoalstates'));
    },
  };
  server.addService(alcor.GoalStateProvisionerService, impl);
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    }),
  };
}
