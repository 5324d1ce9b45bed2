// The baseline's host: a GoalStateProvisioner that lets grpc-js decode each message, notes which
// ports it named and when (for the checks and the timing), and answers with no statuses at once.
// No validation, no state, no logging: the floor of what a push costs on the host side.
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';

export interface NullReceiver {
  readonly port: number;
  /** Port id → when a message naming it arrived (epoch ms), the latest. */
  readonly received: Map<string, number>;
  close(): Promise<void>;
}

const EMPTY_REPLY: alcor.GoalStateOperationReply = { formatVersion: 0, operationStatuses: [], messageTotalOperationTime: 0 };

function unimplemented<Req, Res>(_call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void {
  callback({ code: status.UNIMPLEMENTED, details: 'not a host method' });
}

export async function startNullReceiver(): Promise<NullReceiver> {
  const received = new Map<string, number>();
  const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  server.addService(alcor.GoalStateProvisionerService, {
    pushGoalStatesStream(call: ServerDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply>): void {
      let taken = false;
      call.on('error', () => undefined);
      call.on('data', (m: alcor.GoalStateV2) => {
        if (taken) return;
        taken = true;
        const now = Date.now();
        for (const id of Object.keys(m.portStates)) received.set(id, now);
        call.write(EMPTY_REPLY);
        call.end();
      });
      call.on('end', () => {
        if (!taken) {
          taken = true;
          call.end();
        }
      });
    },
    pushNetworkResourceStates(_call: ServerUnaryCall<alcor.GoalState, alcor.GoalStateOperationReply>, callback: sendUnaryData<alcor.GoalStateOperationReply>): void {
      callback(null, EMPTY_REPLY);
    },
    requestGoalStates: unimplemented,
    pushGoalstates: unimplemented,
  } satisfies alcor.GoalStateProvisionerServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => {
      const force = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(force); resolve(); });
    }),
  };
}
