// The gRPC Agent service: adapts each call to the transport-neutral handlers (agent-handlers.ts).
import { setMaxListeners } from 'node:events';
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import type { agentV1 } from '@merak/proto';
import type { AgentHandlers } from './agent-handlers.js';
import { toServiceError } from '@merak/common';

function unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    fn(call.request).then((r) => callback(null, r), (e: unknown) => callback(toServiceError(e)));
  };
}

export function createAgentService(handlers: AgentHandlers): agentV1.AgentServer {
  return {
    apply(call: ServerWritableStream<agentV1.ApplyRequest, agentV1.ApplyResponse>): void {
      const abort = new AbortController();
      // One listener per worker waiting for its VM's scheduled time (up to the batch's concurrency).
      setMaxListeners(0, abort.signal);
      call.on('cancelled', () => abort.abort());
      handlers.apply(call.request, (m) => call.write(m), abort.signal).then(
        () => call.end(),
        (e: unknown) => call.emit('error', toServiceError(e)),
      );
    },
    listVms: unary(() => handlers.listVms()),
    ping: unary((req: agentV1.PingRequest) => handlers.ping(req)),
    info: unary(() => handlers.info()),
    setTunnels: unary((req: agentV1.SetTunnelsRequest) => handlers.setTunnels(req)),
    updateTunnels: unary((req: agentV1.UpdateTunnelsRequest) => handlers.updateTunnels(req)),
    updateNeighbors: unary((req: agentV1.UpdateNeighborsRequest) => handlers.updateNeighbors(req)),
    injectFault: unary((req: agentV1.InjectFaultRequest) => handlers.injectFault(req)),
  };
}
