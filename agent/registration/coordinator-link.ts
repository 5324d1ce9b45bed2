// The agent's side of registration: a Register stream to the coordinator carrying a hello, then
// heartbeats and the replies to the coordinator's calls (which come down the same stream and run
// through the same handlers as the gRPC service). When the stream breaks it is opened again with
// capped exponential backoff; calls in flight are cancelled (the coordinator sends again what has
// no result, and the agent answers a repeated create with the VM it has). A stream the coordinator
// ends because another agent registered with this vhost's name (and the token) is not reopened:
// one name, one agent (docs/security.md).
import { type ClientDuplexStream, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { agentV1, coordinatorV1 } from '@merak/proto';
import { coordinatorV1 as proto } from '@merak/proto';
import type { Logger } from 'pino';
import { MerakError } from '@merak/common';
import type { AgentHandlers } from '../server/agent-handlers.js';
import { toServiceError } from '@merak/common';
import { type ClientTls, channelCredentials, channelOptions } from '@merak/common';

/** Trailer the coordinator sets when it ends a Register stream because a newer one took the name. */
import { REPLACED_TRAILER } from '@merak/common';
export { REPLACED_TRAILER };

/** The coordinator ended this agent's registration: another agent registered with its name. */
export class RegistrationReplacedError extends MerakError {
  constructor(readonly vhost: string, readonly by: string) {
    super('FAILED_PRECONDITION', `another agent registered as vhost ${vhost} (from ${by}): this one no longer takes the coordinator's calls`, { context: { vhost, by } });
  }
}

export interface CoordinatorLinkOptions {
  readonly coordinator: string;
  readonly token: string | undefined;
  /** Verify the coordinator with this CA; undefined = plaintext. */
  readonly tls: ClientTls | undefined;
  readonly hello: coordinatorV1.AgentInfo;
  readonly vmCount: () => number;
  readonly handlers: AgentHandlers;
  readonly logger: Logger;
  /** Called once if another agent takes this vhost's registration (the link then stays closed). */
  readonly onReplaced?: (e: RegistrationReplacedError) => void;
}

type Stream = ClientDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>;
type Response = coordinatorV1.AgentReply['response'];

/** The HTTP/2 flow-control window for what the coordinator sends (per stream and per connection). */
const RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024;

export class CoordinatorLink {
  private readonly client: InstanceType<typeof proto.CoordinatorClient>;
  private stream: Stream | undefined;
  private beat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 200;
  private closed = false;
  private readonly calls = new Map<number, AbortController>();

  constructor(private readonly opts: CoordinatorLinkOptions) {
    // A plan chunk for thousands of VMs is one message: allow large ones. And let them flow: with
    // HTTP/2's default 64 KiB window the coordinator waits for a window update every 64 KiB it
    // sends (a tunnel set in a VPC of 10,000 vhosts is 40 KB), and agents sharing a connection
    // share that window (bench:coordinator --vms 10000 --agents 10000: 6.5-7.8 s of coordinator
    // CPU with it, 5.2-5.3 s with this one).
    this.client = new proto.CoordinatorClient(opts.coordinator, channelCredentials(opts.tls), {
      'grpc.max_receive_message_length': 512 * 1024 * 1024,
      'grpc.max_send_message_length': 512 * 1024 * 1024,
      'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
      ...channelOptions(opts.tls),
    });
    this.open();
  }

  private open(): void {
    if (this.closed) return;
    const md = new Metadata();
    if (this.opts.token) md.set('authorization', `Bearer ${this.opts.token}`);
    const stream = this.client.register(md);
    this.stream = stream;
    stream.write({ body: { $case: 'hello', value: this.opts.hello } });
    let registered = false;
    stream.on('data', (m: coordinatorV1.CoordinatorMessage) => {
      if (m.heartbeatIntervalMs > 0) {
        this.backoffMs = 200;
        clearInterval(this.beat);
        const interval = Math.max(100, m.heartbeatIntervalMs);
        this.beat = setInterval(() => stream.write({ body: { $case: 'heartbeat', value: { vmCount: this.opts.vmCount() } } }), interval);
        // The first answer acknowledges the hello; later ones change the interval.
        this.opts.logger[registered ? 'debug' : 'info']({ coordinator: this.opts.coordinator, heartbeatMs: interval }, registered ? 'heartbeat interval changed' : 'registered with the coordinator');
        registered = true;
      }
      if (m.call) this.run(stream, m.call);
      if (m.cancel > 0) this.calls.get(m.cancel)?.abort();
    });
    const broken = (why: string): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      clearInterval(this.beat);
      for (const c of this.calls.values()) c.abort();
      this.calls.clear();
      if (this.closed) return;
      this.opts.logger.warn({ coordinator: this.opts.coordinator, retryMs: this.backoffMs, why }, 'coordinator link lost');
      this.retry = setTimeout(() => this.open(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    };
    stream.on('error', (e: ServiceError) => {
      const by = e.code === status.ABORTED ? e.metadata?.get(REPLACED_TRAILER)[0] : undefined;
      if (by !== undefined && this.stream === stream) {
        const replaced = new RegistrationReplacedError(this.opts.hello.name, String(by));
        this.opts.logger.error({ coordinator: this.opts.coordinator, by: String(by) }, replaced.message);
        this.closed = true;
        this.opts.onReplaced?.(replaced);
      }
      broken(e.message);
    });
    stream.on('end', () => broken('stream ended'));
  }

  /** Runs one call from the coordinator and sends its reply (or replies) on `stream`. */
  private run(stream: Stream, call: coordinatorV1.AgentCall): void {
    const { id } = call;
    const reply = (response: Response, done: boolean, error?: coordinatorV1.CallError): void => {
      if (this.stream === stream) stream.write({ body: { $case: 'reply', value: { id, response, done, error } } });
    };
    const fail = (e: unknown): void => {
      const s = toServiceError(e);
      reply(undefined, true, { code: s.code, message: s.details });
    };
    const h = this.opts.handlers;
    const r = call.request;
    switch (r?.$case) {
      case 'apply': {
        const abort = new AbortController();
        this.calls.set(id, abort);
        h.apply(r.value, (m: agentV1.ApplyResponse) => reply({ $case: 'apply', value: m }, false), abort.signal).then(
          () => reply(undefined, true),
          fail,
        ).finally(() => this.calls.delete(id));
        return;
      }
      case 'ping':
        h.ping(r.value).then((v) => reply({ $case: 'ping', value: v }, true), fail);
        return;
      case 'setTunnels':
        h.setTunnels(r.value).then((v) => reply({ $case: 'setTunnels', value: v }, true), fail);
        return;
      case 'updateTunnels':
        h.updateTunnels(r.value).then((v) => reply({ $case: 'updateTunnels', value: v }, true), fail);
        return;
      case 'updateNeighbors':
        h.updateNeighbors(r.value).then((v) => reply({ $case: 'updateNeighbors', value: v }, true), fail);
        return;
      case 'injectFault':
        h.injectFault(r.value).then((v) => reply({ $case: 'injectFault', value: v }, true), fail);
        return;
      case 'info':
        h.info().then((v) => reply({ $case: 'info', value: v }, true), fail);
        return;
      case 'listVms':
        h.listVms().then((v) => reply({ $case: 'listVms', value: v }, true), fail);
        return;
      default:
        reply(undefined, true, { code: status.UNIMPLEMENTED, message: 'this agent does not know that call (a newer coordinator?)' });
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.beat);
    clearTimeout(this.retry);
    for (const c of this.calls.values()) c.abort();
    this.calls.clear();
    this.stream?.end();
    this.stream?.cancel();
    this.client.close();
  }
}
