// A test stand-in for Alcor's host agent: serves PushGoalStatesStream on 127.0.0.1 and answers
// like ACA (one reply per call with a status per port, DHCP and router state, then the end of
// call with OK), recording every message and whether the client had half-closed by then.
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';

export interface RecordedCall {
  readonly message: alcor.GoalStateV2;
  /** Whether the client had half-closed when the reply was written (ACA does not wait for it). */
  readonly halfClosed: boolean;
  /** An empty GoalStateV2: NCM's warm-up. */
  readonly warmUp: boolean;
}

/** success: every status SUCCESS. failure: every status FAILURE. hang: never answer. */
export type AgentMode = 'success' | 'failure' | 'hang';

export interface RecordingAgent {
  readonly port: number;
  mode: AgentMode;
  readonly calls: RecordedCall[];
  /** The non-empty messages, in arrival order. */
  pushes(): alcor.GoalStateV2[];
  warmUps(): RecordedCall[];
  /** Resolves once `n` non-empty messages arrived. */
  waitForPushes(n: number, timeoutMs?: number): Promise<alcor.GoalStateV2[]>;
  close(): Promise<void>;
}

const isEmpty = (m: alcor.GoalStateV2): boolean => alcor.GoalStateV2.encode(m).finish().length === 0;

function replyTo(message: alcor.GoalStateV2, mode: AgentMode): alcor.GoalStateOperationReply {
  const operationStatus = mode === 'failure' ? alcor.OperationStatus.FAILURE : alcor.OperationStatus.SUCCESS;
  const statuses: alcor.GoalStateOperationReply_GoalStateOperationStatus[] = [];
  const add = (type: alcor.ResourceType, states: Record<string, { operationType: alcor.OperationType; configuration?: { id: string } | undefined }>): void => {
    for (const s of Object.values(states)) {
      statuses.push(alcor.GoalStateOperationReply_GoalStateOperationStatus.fromPartial({
        resourceId: s.configuration?.id ?? '', resourceType: type, operationType: s.operationType, operationStatus,
      }));
    }
  };
  add(alcor.ResourceType.PORT, message.portStates);
  add(alcor.ResourceType.DHCP, message.dhcpStates);
  add(alcor.ResourceType.ROUTER, message.routerStates);
  return alcor.GoalStateOperationReply.fromPartial({ operationStatuses: statuses, messageTotalOperationTime: 1 });
}

export async function startRecordingAgent(mode: AgentMode = 'success'): Promise<RecordingAgent> {
  const calls: RecordedCall[] = [];
  const waiters: Array<() => void> = [];
  const server = new Server({ 'grpc.max_receive_message_length': -1 });
  const agent = {
    port: 0,
    mode,
    calls,
    pushes: () => calls.filter((c) => !c.warmUp).map((c) => c.message),
    warmUps: () => calls.filter((c) => c.warmUp),
    waitForPushes(n: number, timeoutMs = 10_000): Promise<alcor.GoalStateV2[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`waitForPushes: ${agent.pushes().length} of ${n} pushes after ${timeoutMs} ms`)), timeoutMs);
        const check = (): void => {
          if (agent.pushes().length < n) return void waiters.push(check);
          clearTimeout(timer);
          resolve(agent.pushes().slice(0, n));
        };
        check();
      });
    },
    close: () => new Promise<void>((resolve) => {
      server.forceShutdown();
      resolve();
    }),
  };
  const handlers: alcor.GoalStateProvisionerServer = {
    pushGoalStatesStream(call: ServerDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply>): void {
      let halfClosed = false;
      let taken = false;
      call.on('error', () => undefined); // a cancelled call
      call.on('end', () => { halfClosed = true; });
      call.on('data', (message: alcor.GoalStateV2) => {
        if (taken) return;
        taken = true;
        const warmUp = isEmpty(message);
        const answerMode = agent.mode;
        // Give a half-close that travels with the message the chance to arrive first.
        setTimeout(() => {
          calls.push({ message, halfClosed, warmUp });
          for (const w of waiters.splice(0)) w();
          if (answerMode === 'hang' && !warmUp) return;
          if (call.cancelled) return;
          call.write(replyTo(message, answerMode));
          call.end();
        }, 30);
      });
    },
    pushNetworkResourceStates(_c: ServerUnaryCall<alcor.GoalState, alcor.GoalStateOperationReply>, cb: sendUnaryData<alcor.GoalStateOperationReply>): void {
      cb({ code: status.UNIMPLEMENTED });
    },
    requestGoalStates(_c: ServerUnaryCall<alcor.HostRequest, alcor.HostRequestReply>, cb: sendUnaryData<alcor.HostRequestReply>): void {
      cb({ code: status.UNIMPLEMENTED });
    },
    pushGoalstates(_c: ServerUnaryCall<alcor.NeighborRulesRequest, alcor.GoalStateOperationReply>, cb: sendUnaryData<alcor.GoalStateOperationReply>): void {
      cb({ code: status.UNIMPLEMENTED });
    },
  };
  server.addService(alcor.GoalStateProvisionerService, handlers);
  agent.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return agent;
}
