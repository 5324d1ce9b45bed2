// A GoalState client for tests that behaves like Alcor's NCM: a new PushGoalStatesStream call per
// message, one message, half-close, wait for the reply and the end of call; warm-up calls that
// send an empty message and never half-close.
import { type ClientDuplexStream, credentials, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';

export class NcmLikeClient {
  readonly client: alcor.GoalStateProvisionerClient;

  constructor(address: string) {
    this.client = new alcor.GoalStateProvisionerClient(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  }

  /** Pushes one message; resolves with the replies and the call's final status code. */
  push(message: alcor.GoalStateV2, opts: { halfClose?: boolean } = {}): Promise<{ replies: alcor.GoalStateOperationReply[]; code: status }> {
    return new Promise((resolve, reject) => {
      const call: ClientDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply> = this.client.pushGoalStatesStream();
      const replies: alcor.GoalStateOperationReply[] = [];
      call.on('data', (r: alcor.GoalStateOperationReply) => replies.push(r));
      call.on('status', (s: { code: status }) => resolve({ replies, code: s.code }));
      call.on('error', (e: Error & { code?: number }) => {
        if (e.code === undefined) reject(e);
      });
      call.write(message);
      if (opts.halfClose ?? true) call.end();
    });
  }

  /** The v1 unary push. */
  pushV1(message: alcor.GoalState): Promise<alcor.GoalStateOperationReply> {
    return new Promise((resolve, reject) => this.client.pushNetworkResourceStates(message, (e, r) => (e ? reject(e) : resolve(r))));
  }

  close(): void {
    this.client.close();
  }
}
