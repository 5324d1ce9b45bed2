// A promise-based client of one agent, with the bearer token on every call.
import { type ClientReadableStream, Metadata, type ServiceError } from '@grpc/grpc-js';
import { type ClientTls, channelCredentials, channelOptions } from '@merak/common';
import { agentV1 } from '@merak/proto';

export interface AgentClientOptions {
  /** Bearer token; omitted for an agent started with --insecure. */
  readonly token?: string;
  /** Per-call deadline for unary calls (default 60 s). */
  readonly deadlineMs?: number;
  /** The agent serves TLS (--tls-cert): verify it with this CA; omitted = plaintext. */
  readonly tls?: ClientTls;
}

export class AgentClient {
  private readonly client: InstanceType<typeof agentV1.AgentClient>;
  private readonly token: string | undefined;
  private readonly deadlineMs: number;

  /** `address` is HOST:PORT or unix:PATH. */
  constructor(readonly address: string, opts: AgentClientOptions = {}) {
    this.client = new agentV1.AgentClient(address, channelCredentials(opts.tls), {
      ...channelOptions(opts.tls),
      'grpc.max_receive_message_length': 512 * 1024 * 1024,
      'grpc.max_send_message_length': 512 * 1024 * 1024,
      // A pool per channel: the shared one is swept every 10 s over all subchannels, which costs
      // seconds of CPU with thousands of agents.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_channelz': 0,
      'grpc.enable_retries': 0,
    });
    this.token = opts.token;
    this.deadlineMs = opts.deadlineMs ?? 60_000;
  }

  private metadata(): Metadata {
    const m = new Metadata();
    if (this.token) m.set('authorization', `Bearer ${this.token}`);
    return m;
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.deadlineMs };
  }

  /** Resolves once the channel is connected (rejects after `timeoutMs`). */
  connect(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(Date.now() + timeoutMs, (e) => (e ? reject(e) : resolve())));
  }

  /** Applies a batch; `onResult` sees each VM's result as it arrives. Rejects with the gRPC status. */
  apply(req: agentV1.ApplyRequest, onResult: (r: agentV1.VmResult) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream: ClientReadableStream<agentV1.ApplyResponse> = this.client.apply(req, this.metadata());
      const cancel = (): void => stream.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      const done = (): void => signal?.removeEventListener('abort', cancel);
      stream.on('data', (m: agentV1.ApplyResponse) => {
        for (const r of m.results) onResult(r);
      });
      stream.on('error', (e) => { done(); reject(e); });
      stream.on('end', () => { done(); resolve(); });
    });
  }

  /** Applies a batch and collects every result. */
  async applyAll(req: agentV1.ApplyRequest): Promise<agentV1.VmResult[]> {
    const results: agentV1.VmResult[] = [];
    await this.apply(req, (r) => results.push(r));
    return results;
  }

  listVms(): Promise<agentV1.ListVmsResponse> {
    return this.unary((cb) => this.client.listVms({}, this.metadata(), this.deadline(), cb));
  }

  ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> {
    return this.unary((cb) => this.client.ping(req, this.metadata(), this.deadline(), cb));
  }

  info(): Promise<agentV1.InfoResponse> {
    return this.unary((cb) => this.client.info({}, this.metadata(), this.deadline(), cb));
  }

  /** `groups` (the packed form the coordinator sends) may be left out. */
  setTunnels(req: Omit<agentV1.SetTunnelsRequest, 'groups'> & { groups?: agentV1.TunnelGroup[] }): Promise<agentV1.SetTunnelsResponse> {
    return this.unary((cb) => this.client.setTunnels({ groups: [], ...req }, this.metadata(), this.deadline(), cb));
  }

  updateTunnels(req: agentV1.UpdateTunnelsRequest): Promise<agentV1.UpdateTunnelsResponse> {
    return this.unary((cb) => this.client.updateTunnels(req, this.metadata(), this.deadline(), cb));
  }

  updateNeighbors(req: agentV1.UpdateNeighborsRequest): Promise<agentV1.UpdateNeighborsResponse> {
    return this.unary((cb) => this.client.updateNeighbors(req, this.metadata(), this.deadline(), cb));
  }

  /** A unary call as a promise that rejects with the gRPC status. */
  private unary<T>(start: (cb: (e: ServiceError | null, r?: T) => void) => unknown): Promise<T> {
    return new Promise((resolve, reject) => start((e, r) => (e ? reject(e) : resolve(r!))));
  }

  close(): void {
    this.client.close();
  }
}
