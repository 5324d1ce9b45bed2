// The NCM's gRPC client towards host agents, as Alcor's NCM behaves: on first contact with a host
// it opens `channelsPerHost` channels and starts one warm-up call on each (one EMPTY GoalStateV2,
// never half-closed; the reply is only logged). Each push is a NEW PushGoalStatesStream call on
// one of the channels (round robin): one GoalStateV2, half-close at once, then wait for the reply
// and the OK end of call, at most `timeoutMs`. Plaintext, no deadline on the call itself.
import { type ClientDuplexStream, type ServiceError, credentials, status } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import type { Logger } from 'pino';

/** How one call ended, before faults and reply statuses are judged. */
export type CallOutcome = 'ok' | 'error' | 'timeout' | 'dropped';

export interface CallResult {
  readonly outcome: CallOutcome;
  readonly replies: alcor.GoalStateOperationReply[];
  /** For 'error': the gRPC status text. */
  readonly error?: string;
}

export interface PushClientOptions {
  readonly channelsPerHost: number;
  readonly timeoutMs: number;
  readonly logger?: Logger;
}

type PushCall = ClientDuplexStream<alcor.GoalStateV2, alcor.GoalStateOperationReply>;

interface HostChannels {
  readonly clients: alcor.GoalStateProvisionerClient[];
  next: number;
}

// Large hosts receive large messages; as Alcor's ends, no practical size limit. A local
// subchannel pool gives each client its own connection, like NCM's separate channels.
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  'grpc.use_local_subchannel_pool': 1,
};

export class PushClient {
  private readonly hosts = new Map<string, HostChannels>();
  private readonly warmups = new Set<PushCall>();
  private readonly inFlight = new Set<PushCall>();
  private closed = false;

  constructor(private readonly o: PushClientOptions) {}

  /** Pushes one message to `endpoint` (HOST:PORT). `drop`: cancel the call once written, reading nothing. */
  push(endpoint: string, message: alcor.GoalStateV2, drop = false): Promise<CallResult> {
    const client = this.channel(endpoint);
    const call = client.pushGoalStatesStream();
    this.inFlight.add(call);
    const replies: alcor.GoalStateOperationReply[] = [];
    return new Promise<CallResult>((resolve) => {
      let done = false;
      const finish = (r: CallResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.inFlight.delete(call);
        resolve(r);
      };
      const timer = setTimeout(() => {
        finish({ outcome: 'timeout', replies });
        call.cancel();
      }, this.o.timeoutMs);
      call.on('data', (reply: alcor.GoalStateOperationReply) => replies.push(reply));
      call.on('error', (e: ServiceError) => finish({ outcome: 'error', replies, error: `${status[e.code] ?? e.code}: ${e.details}` }));
      call.on('status', (s: { code: status }) => {
        if (s.code === status.OK) finish({ outcome: 'ok', replies });
      });
      if (drop) {
        call.write(message, () => {
          finish({ outcome: 'dropped', replies: [] });
          call.cancel();
        });
        call.end();
        return;
      }
      call.write(message);
      call.end(); // half-close at once, as NCM does
    });
  }

  /** Cancels warm-up and in-flight calls and closes every channel. */
  close(): void {
    this.closed = true;
    for (const c of [...this.warmups, ...this.inFlight]) c.cancel();
    this.warmups.clear();
    for (const h of this.hosts.values()) for (const c of h.clients) c.close();
    this.hosts.clear();
  }

  private channel(endpoint: string): alcor.GoalStateProvisionerClient {
    let host = this.hosts.get(endpoint);
    if (!host) {
      host = { clients: [], next: 0 };
      for (let i = 0; i < this.o.channelsPerHost; i++) {
        const client = new alcor.GoalStateProvisionerClient(endpoint, credentials.createInsecure(), CHANNEL_OPTIONS);
        host.clients.push(client);
        this.warmUp(endpoint, i, client);
      }
      this.hosts.set(endpoint, host);
    }
    const client = host.clients[host.next % host.clients.length]!;
    host.next++;
    return client;
  }

  /** One call with one empty GoalStateV2, never half-closed; nobody waits for its reply. */
  private warmUp(endpoint: string, channel: number, client: alcor.GoalStateProvisionerClient): void {
    if (this.closed) return;
    const call = client.pushGoalStatesStream();
    this.warmups.add(call);
    const log = this.o.logger;
    call.on('data', (reply: alcor.GoalStateOperationReply) => {
      log?.debug({ endpoint, channel, statuses: reply.operationStatuses.length, totalUs: reply.messageTotalOperationTime }, 'warm-up reply');
    });
    call.on('error', (e: ServiceError) => {
      if (e.code !== status.CANCELLED) log?.debug({ endpoint, channel, err: e.details }, 'warm-up call failed');
    });
    call.on('status', () => this.warmups.delete(call));
    call.write(alcor.GoalStateV2.fromPartial({}));
  }
}
