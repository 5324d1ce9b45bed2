// A promise-based client of the coordinator's gRPC API, with the bearer token on every call.
import { type ClientReadableStream, Metadata, type ServiceError } from '@grpc/grpc-js';
import { type ClientTls, channelCredentials, channelOptions } from '@merak/common';
import { coordinatorV1 } from '@merak/proto';

export class CoordinatorClient {
  private readonly client: InstanceType<typeof coordinatorV1.CoordinatorClient>;

  /** `address` is HOST:PORT or unix:PATH; with `tls` the coordinator's certificate is verified against its CA. */
  constructor(readonly address: string, private readonly token: string | undefined, private readonly deadlineMs = 120_000, readonly tls?: ClientTls) {
    this.client = new coordinatorV1.CoordinatorClient(address, channelCredentials(tls), { 'grpc.max_receive_message_length': 256 * 1024 * 1024, ...channelOptions(tls) });
  }

  private metadata(): Metadata {
    const m = new Metadata();
    if (this.token) m.set('authorization', `Bearer ${this.token}`);
    return m;
  }

  private unary<T>(start: (md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r?: T) => void) => unknown, deadlineMs = this.deadlineMs): Promise<T> {
    return new Promise((resolve, reject) => start(this.metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r!))));
  }

  createScenario(text: string, format: '' | 'yaml' | 'json' = ''): Promise<coordinatorV1.Scenario> {
    return this.unary((md, o, cb) => this.client.createScenario({ text, format }, md, o, cb));
  }

  getScenario(id: string): Promise<coordinatorV1.Scenario> {
    return this.unary((md, o, cb) => this.client.getScenario({ id }, md, o, cb));
  }

  listScenarios(): Promise<coordinatorV1.ListScenariosResponse> {
    return this.unary((md, o, cb) => this.client.listScenarios({}, md, o, cb));
  }

  deleteScenario(id: string): Promise<coordinatorV1.Scenario> {
    return this.unary((md, o, cb) => this.client.deleteScenario({ id }, md, o, cb));
  }

  /** The ping test can take minutes on a big scenario. */
  runTest(id: string): Promise<coordinatorV1.TestSummary> {
    return this.unary((md, o, cb) => this.client.runTest({ id }, md, o, cb), 3_600_000);
  }

  getReport(id: string): Promise<coordinatorV1.ReportResponse> {
    return this.unary((md, o, cb) => this.client.getReport({ id }, md, o, cb));
  }

  listAgents(): Promise<coordinatorV1.ListAgentsResponse> {
    return this.unary((md, o, cb) => this.client.listAgents({}, md, o, cb));
  }

  /** Progress events until the scenario settles (the stream ends) or `signal` aborts. */
  watch(id: string, onEvent: (e: coordinatorV1.ScenarioEvent) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream: ClientReadableStream<coordinatorV1.ScenarioEvent> = this.client.watchScenario({ id }, this.metadata());
      const cancel = (): void => stream.cancel();
      signal?.addEventListener('abort', cancel, { once: true });
      stream.on('data', onEvent);
      stream.on('error', (e: ServiceError) => {
        signal?.removeEventListener('abort', cancel);
        if (signal?.aborted) resolve();
        else reject(e);
      });
      stream.on('end', () => {
        signal?.removeEventListener('abort', cancel);
        resolve();
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
