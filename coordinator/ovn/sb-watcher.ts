// One monitor on the southbound Port_Binding table (logical_port, chassis, up) per southbound
// database: each change of a port's binding is handed on with the time it arrived on the
// coordinator's clock (performance.now()), so the provider can tell, per VM, when its port was
// bound to a chassis and when it went up. The connection is checked every few seconds and dialled
// again when lost; the monitor's initial contents then tell what changed meanwhile.
import { performance } from 'node:perf_hooks';
import { type OvsdbClient, setMembers } from '@merak/common';
import type { Logger } from 'pino';
import type { Json } from './database.js';

export interface BindingChange {
  readonly logicalPort: string;
  /** bound to a chassis */
  readonly bound: boolean;
  readonly up: boolean;
  /** performance.now() when the update arrived */
  readonly at: number;
}

const CHECK_MS = 3000;

export class SbWatcher {
  private client: OvsdbClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** row uuid -> logical_port (a modify may not repeat it) */
  private readonly portOf = new Map<string, string>();
  private connecting: Promise<void> | undefined;

  constructor(
    readonly endpoint: string,
    private readonly connect: () => Promise<OvsdbClient>,
    private readonly onChange: (c: BindingChange) => void,
    private readonly logger: Logger,
  ) {}

  /** Starts the monitor (resolves once its initial contents are in); keeps it alive afterwards. */
  async start(): Promise<void> {
    await this.dial();
    this.timer = setInterval(() => void this.check(), CHECK_MS);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.close();
    this.client = undefined;
  }

  private dial(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        const client = await this.connect();
        if (this.closed) {
          client.close();
          return;
        }
        this.client = client;
        await client.monitor('merak-port-bindings', { Port_Binding: { columns: ['logical_port', 'chassis', 'up'] } }, (u) => this.onUpdate(u));
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private async check(): Promise<void> {
    if (this.closed || this.connecting) return;
    try {
      if (!this.client) throw new Error('not connected');
      await this.client.echo();
    } catch {
      this.client?.close();
      this.client = undefined;
      try {
        await this.dial();
        this.logger.info({ sb: this.endpoint }, 'southbound monitor connected again');
      } catch (e) {
        this.logger.warn({ sb: this.endpoint, err: e }, 'southbound monitor: cannot connect (bound/up times wait)');
      }
    }
  }

  private onUpdate(update: Json): void {
    const at = performance.now();
    const rows = (update as { Port_Binding?: Record<string, { old?: Record<string, Json>; new?: Record<string, Json> }> } | null)?.Port_Binding;
    if (!rows) return;
    for (const [id, change] of Object.entries(rows)) {
      const row = change.new;
      if (!row) {
        this.portOf.delete(id);
        continue;
      }
      const logicalPort = typeof row.logical_port === 'string' ? row.logical_port : this.portOf.get(id);
      if (logicalPort === undefined) continue;
      this.portOf.set(id, logicalPort);
      const up = setMembers(row.up);
      this.onChange({ logicalPort, bound: setMembers(row.chassis).length > 0, up: up[0] === true, at });
    }
  }
}
