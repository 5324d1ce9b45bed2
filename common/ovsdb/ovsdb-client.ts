// A small RFC 7047 client: transact, monitor (update notifications), echo. One database per
// client (Open_vSwitch on a vhost, OVN_Northbound or OVN_Southbound for the OVN provider), over a
// unix socket or TCP.
import { type Socket, createConnection } from 'node:net';
import { MerakError, errorMessage } from '../errors.js';
import { JsonStream } from './json-stream.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Row = Record<string, Json>;
export type Operation = Record<string, Json>;

export interface ConnectOptions {
  readonly timeoutMs?: number;
  /** The database every call addresses (default Open_vSwitch). */
  readonly database?: string;
}

/** `unix:PATH` | `tcp:HOST:PORT` | PATH, as OVS tools write remotes. */
export function parseEndpoint(endpoint: string): { path: string } | { host: string; port: number } {
  if (endpoint.startsWith('tcp:')) {
    const rest = endpoint.slice(4);
    const colon = rest.lastIndexOf(':');
    const port = Number(rest.slice(colon + 1));
    const host = rest.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new OvsdbError(`OVSDB endpoint ${JSON.stringify(endpoint)} is not tcp:HOST:PORT`);
    return { host, port };
  }
  const path = endpoint.startsWith('unix:') ? endpoint.slice(5) : endpoint;
  if (path === '') throw new OvsdbError(`OVSDB endpoint ${JSON.stringify(endpoint)} has no socket path`);
  return { path };
}

interface Pending {
  resolve(result: Json): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class OvsdbError extends MerakError {
  constructor(message: string, readonly details: Json = null) {
    super('OVSDB', message);
  }
}

export class OvsdbClient {
  private readonly pending = new Map<number, Pending>();
  private readonly monitors = new Map<string, (update: Json) => void>();
  private readonly closeListeners: Array<(e: Error) => void> = [];
  private nextId = 1;
  private closed = false;

  private constructor(private readonly socket: Socket, private readonly timeoutMs: number, readonly database: string) {
    const stream = new JsonStream();
    socket.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = stream.push(chunk);
      } catch (e) {
        this.fail(new OvsdbError(`undecodable reply: ${errorMessage(e)}`));
        socket.destroy();
        return;
      }
      for (const m of msgs) this.onMessage(m as { id?: Json; method?: string; params?: Json[]; result?: Json; error?: Json });
    });
    socket.on('close', () => this.fail(new OvsdbError('OVSDB connection closed')));
    socket.on('error', (e) => this.fail(new OvsdbError(`OVSDB connection: ${e.message}`)));
  }

  /**
   * Connects to `endpoint`: `unix:PATH`, `tcp:HOST:PORT`, or a bare socket path. `database` is the
   * one every transact and monitor of this client addresses (default Open_vSwitch).
   */
  static connect(endpoint: string, opts: number | ConnectOptions = {}): Promise<OvsdbClient> {
    const { timeoutMs = 10_000, database = 'Open_vSwitch' } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    const target = parseEndpoint(endpoint);
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? createConnection(target.path) : createConnection(target.port, target.host);
      const t = setTimeout(() => { socket.destroy(); reject(new OvsdbError(`no OVSDB at ${endpoint} after ${timeoutMs} ms`)); }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        if (!('path' in target)) socket.setNoDelay(true);
        resolve(new OvsdbClient(socket, timeoutMs, database));
      });
      socket.once('error', (e) => { clearTimeout(t); reject(new OvsdbError(`cannot connect to OVSDB at ${endpoint}: ${e.message}`)); });
    });
  }

  call(method: string, params: Json[], timeoutMs = this.timeoutMs): Promise<Json> {
    if (this.closed) return Promise.reject(new OvsdbError('OVSDB connection closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MerakError('TIMEOUT', `OVSDB ${method} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ id, method, params }));
    });
  }

  /** One transaction; throws OvsdbError naming the failed operation (its index and OVSDB's error). */
  async transact(ops: Operation[], timeoutMs?: number): Promise<Json[]> {
    const result = (await this.call('transact', [this.database, ...ops], timeoutMs)) as Json[];
    for (let i = 0; i < result.length; i++) {
      const r = result[i] as { error?: string; details?: string } | null;
      if (r && typeof r === 'object' && r.error) {
        const which = i < ops.length ? `operation ${i} (${String(ops[i]!.op)} ${String(ops[i]!.table ?? '')})` : 'the transaction';
        throw new OvsdbError(`${which}: ${r.error}${r.details ? `: ${r.details}` : ''}`, r as Json);
      }
    }
    return result;
  }

  /** Starts a monitor; `onUpdate` gets the initial contents and every update. */
  async monitor(id: string, requests: Record<string, Json>, onUpdate: (update: Json) => void): Promise<void> {
    this.monitors.set(id, onUpdate);
    const initial = await this.call('monitor', [this.database, id, requests]);
    onUpdate(initial);
  }

  /** Called once when the connection is lost or closed (a monitor's owner learns its view went stale). */
  onClose(listener: (e: Error) => void): void {
    this.closeListeners.push(listener);
  }

  async echo(): Promise<void> {
    await this.call('echo', [], 2000);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onMessage(m: { id?: Json; method?: string; params?: Json[]; result?: Json; error?: Json }): void {
    if (m.method === 'echo') {
      this.socket.write(JSON.stringify({ id: m.id ?? null, result: m.params ?? [], error: null }));
    } else if (m.method === 'update' && Array.isArray(m.params)) {
      this.monitors.get(String(m.params[0]))?.(m.params[1] ?? null);
    } else if (typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(new OvsdbError(`OVSDB: ${JSON.stringify(m.error)}`, m.error));
      else p.resolve(m.result ?? null);
    }
  }

  private fail(e: Error): void {
    this.closed = true;
    // splice: each listener hears of the loss once ('error' and 'close' both end here).
    for (const l of this.closeListeners.splice(0)) l(e);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(e);
      this.pending.delete(id);
    }
  }
}

/** OVSDB's <map> encoding. */
export const ovsMap = (m: Readonly<Record<string, string>>): Json => ['map', Object.entries(m).map(([k, v]) => [k, v])];
/** Decodes an OVSDB <map> value. */
export function fromOvsMap(v: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v) && v[0] === 'map' && Array.isArray(v[1])) for (const pair of v[1] as Json[][]) out[String(pair[0])] = String(pair[1]);
  return out;
}
/** A <set> column's single value or its members (OVSDB sends one member as a bare atom). */
export function setMembers(v: Json | undefined): Json[] {
  if (Array.isArray(v) && v[0] === 'set') return v[1] as Json[];
  return v === undefined ? [] : [v];
}
