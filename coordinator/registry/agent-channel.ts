// Calls to one agent down its Register stream, and their replies. The same methods as the gRPC
// AgentClient, so the engine cannot tell them apart; but a call here opens no connection and no
// HTTP/2 stream: it is one message each way (or a few for a large Apply), on a stream the agent
// opened when it registered.
import { type ServiceError, status } from '@grpc/grpc-js';
import { statusError } from '@merak/common';
import type { agentV1, coordinatorV1 } from '@merak/proto';

type Reply = coordinatorV1.AgentReply;

interface Pending {
  onReply(r: Reply): void;
  fail(e: ServiceError): void;
}

/** A promise and what settles it (Promise.withResolvers, which Node 20 lacks). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class AgentChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: string | undefined;

  /** `unaryDeadlineMs`: how long a call other than Apply may take (the ping test is the slowest). */
  constructor(readonly agent: string, private readonly send: (m: coordinatorV1.CoordinatorMessage) => void, private readonly unaryDeadlineMs = 300_000) {}

  /** A reply from the agent (for a call of this channel). */
  deliver(reply: Reply): void {
    this.pending.get(reply.id)?.onReply(reply);
  }

  /** The stream is gone: every call in flight fails UNAVAILABLE, and so does every later one. */
  close(reason: string): void {
    this.closedWith = reason;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.fail(statusError(status.UNAVAILABLE, `agent ${this.agent}: ${reason}`));
  }

  private start(request: NonNullable<coordinatorV1.AgentCall['request']>, pending: (id: number, finish: () => void) => Pending): number {
    const id = this.nextId++;
    if (this.closedWith !== undefined) {
      pending(id, () => undefined).fail(statusError(status.UNAVAILABLE, `agent ${this.agent}: ${this.closedWith}`));
      return id;
    }
    this.pending.set(id, pending(id, () => this.pending.delete(id)));
    this.send({ heartbeatIntervalMs: 0, call: { id, request }, cancel: 0 });
    return id;
  }

  /** Applies a batch; `onResult` sees each VM's result as it arrives. Rejects with the agent's status. */
  apply(req: agentV1.ApplyRequest, onResult: (r: agentV1.VmResult) => void, signal?: AbortSignal): Promise<void> {
    // `req` is named by no closure here: what a closure names lives as long as the call does, and
    // a chunk's operations would then outlive many young-generation collections, copied by each.
    const done = deferred<void>();
    let id = 0;
    const cancel = (): void => {
      if (!this.pending.has(id)) return;
      this.pending.delete(id);
      this.send({ heartbeatIntervalMs: 0, call: undefined, cancel: id });
      done.reject(statusError(status.CANCELLED, 'cancelled'));
    };
    id = this.start({ $case: 'apply', value: req }, (_id, finish) => ({
      onReply: (r) => {
        if (r.response?.$case === 'apply') for (const v of r.response.value.results) onResult(v);
        if (!r.done) return;
        finish();
        signal?.removeEventListener('abort', cancel);
        if (r.error) done.reject(statusError(r.error.code, r.error.message));
        else done.resolve();
      },
      fail: (e) => {
        signal?.removeEventListener('abort', cancel);
        done.reject(e);
      },
    }));
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    return done.promise;
  }

  private unary<K extends 'ping' | 'setTunnels' | 'updateTunnels' | 'updateNeighbors' | 'info' | 'listVms' | 'injectFault', Res>(
    request: NonNullable<coordinatorV1.AgentCall['request']> & { $case: K },
    take: (r: Reply) => Res | undefined,
  ): Promise<Res> {
    // As in apply: the closures name the call's kind, not its request (a tunnel set can be large).
    const kind = request.$case;
    const done = deferred<Res>();
    let timer: NodeJS.Timeout | undefined;
    this.start(request, (callId, finish) => {
      timer = setTimeout(() => {
        finish();
        this.send({ heartbeatIntervalMs: 0, call: undefined, cancel: callId });
        done.reject(statusError(status.DEADLINE_EXCEEDED, `agent ${this.agent}: no answer to ${kind} within ${this.unaryDeadlineMs} ms`));
      }, this.unaryDeadlineMs);
      return {
        onReply: (r) => {
          if (!r.done) return;
          finish();
          clearTimeout(timer);
          const value = take(r);
          if (r.error) done.reject(statusError(r.error.code, r.error.message));
          else if (value === undefined) done.reject(statusError(status.INTERNAL, `agent ${this.agent}: a ${kind} reply without a ${kind} response`));
          else done.resolve(value);
        },
        fail: (e) => {
          clearTimeout(timer);
          done.reject(e);
        },
      };
    });
    return done.promise;
  }

  ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> {
    return this.unary({ $case: 'ping', value: req }, (r) => (r.response?.$case === 'ping' ? r.response.value : undefined));
  }

  setTunnels(req: agentV1.SetTunnelsRequest): Promise<agentV1.SetTunnelsResponse> {
    return this.unary({ $case: 'setTunnels', value: req }, (r) => (r.response?.$case === 'setTunnels' ? r.response.value : undefined));
  }

  updateTunnels(req: agentV1.UpdateTunnelsRequest): Promise<agentV1.UpdateTunnelsResponse> {
    return this.unary({ $case: 'updateTunnels', value: req }, (r) => (r.response?.$case === 'updateTunnels' ? r.response.value : undefined));
  }

  updateNeighbors(req: agentV1.UpdateNeighborsRequest): Promise<agentV1.UpdateNeighborsResponse> {
    return this.unary({ $case: 'updateNeighbors', value: req }, (r) => (r.response?.$case === 'updateNeighbors' ? r.response.value : undefined));
  }

  injectFault(req: agentV1.InjectFaultRequest): Promise<agentV1.InjectFaultResponse> {
    return this.unary({ $case: 'injectFault', value: req }, (r) => (r.response?.$case === 'injectFault' ? r.response.value : undefined));
  }

  info(): Promise<agentV1.InfoResponse> {
    return this.unary({ $case: 'info', value: {} }, (r) => (r.response?.$case === 'info' ? r.response.value : undefined));
  }

  listVms(): Promise<agentV1.ListVmsResponse> {
    return this.unary({ $case: 'listVms', value: {} }, (r) => (r.response?.$case === 'listVms' ? r.response.value : undefined));
  }
}
