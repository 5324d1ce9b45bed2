// The agent's side of registration: a Register stream to the coordinator carrying a hello and then
// heartbeats; when it breaks, it is opened again with capped exponential backoff.
import { type ClientDuplexStream, Metadata, credentials } from '@grpc/grpc-js';
import { coordinatorV1 } from '@merak/proto';
import type { Logger } from 'pino';

export interface CoordinatorLinkOptions {
  readonly coordinator: string;
  readonly token: string | undefined;
  readonly hello: coordinatorV1.AgentInfo;
  readonly vmCount: () => number;
  readonly logger: Logger;
}

export class CoordinatorLink {
  private readonly client: InstanceType<typeof coordinatorV1.CoordinatorClient>;
  private stream: ClientDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage> | undefined;
  private beat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 200;
  private closed = false;

  constructor(private readonly opts: CoordinatorLinkOptions) {
    this.client = new coordinatorV1.CoordinatorClient(opts.coordinator, credentials.createInsecure());
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
    // The first answer acknowledges the hello; later ones change the heartbeat interval.
    stream.on('data', (m: coordinatorV1.CoordinatorMessage) => {
      this.backoffMs = 200;
      clearInterval(this.beat);
      const interval = Math.max(100, m.heartbeatIntervalMs);
      this.beat = setInterval(() => stream.write({ body: { $case: 'heartbeat', value: { vmCount: this.opts.vmCount() } } }), interval);
      this.opts.logger[registered ? 'debug' : 'info']({ coordinator: this.opts.coordinator, heartbeatMs: interval }, registered ? 'heartbeat interval changed' : 'registered with the coordinator');
      registered = true;
    });
    const broken = (why: string): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      clearInterval(this.beat);
      if (this.closed) return;
      this.opts.logger.warn({ coordinator: this.opts.coordinator, retryMs: this.backoffMs, why }, 'coordinator link lost');
      this.retry = setTimeout(() => this.open(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    };
    stream.on('error', (e: Error) => broken(e.message));
    stream.on('end', () => broken('stream ended'));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.beat);
    clearTimeout(this.retry);
    this.stream?.end();
    this.stream?.cancel();
    this.client.close();
  }
}
