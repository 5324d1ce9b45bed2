// An OpenFlow 1.3 client on a unix socket, such as a bridge's <OVS_RUNDIR>/<bridge>.mgmt. It says
// HELLO, answers ECHO_REQUEST, and applies batches of flow mods: every mod written back to back,
// then one BARRIER_REQUEST; the switch answers refused mods with OFPT_ERROR (matched by xid) and
// the barrier once it has handled everything before it. With { bundle: true } the batch goes as
// one ONF bundle instead (bundle.ts): all or nothing.
import { type Socket, createConnection } from 'node:net';
import { type BundleLink, BundleTransaction, encodeBundle } from './bundle.js';
import { OFPET, OFPHFC, OFP_VERSION } from './constants.js';
import {
  type FlowFailure, OpenFlowClosedError, OpenFlowConnectError, OpenFlowDecodeError, OpenFlowError, OpenFlowFlowError, OpenFlowTimeoutError,
  OpenFlowVersionError,
} from './errors.js';
import { describeFlow } from './match.js';
import type { LabeledFlowMod, ParsedMessage } from './messages.js';
import { OpenFlowParser } from './parser.js';
import { serialize, serializeFlowMod } from './serializer.js';

export interface ConnectOptions {
  /** Connect and handshake together. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** apply() and barrier(), from the call to the barrier reply; 0 = no limit. Default 60000 ms. */
  readonly requestTimeoutMs?: number;
}

export interface ApplyOptions {
  /**
   * Send the batch as one atomic, ordered bundle (ONF EXT-230): the switch applies every mod or
   * none, with no moment where some are in and others not, and revalidates its tables once rather
   * than after each mod. Default false: mods one by one, then a barrier.
   */
  readonly bundle?: boolean;
}

/** Bytes per socket write: big enough for few writes, small enough not to hold a huge copy. */
const CHUNK_BYTES = 256 * 1024;

interface Batch {
  readonly mods: readonly LabeledFlowMod[];
  readonly xids: readonly number[];
  readonly barrierXid: number;
  readonly failures: FlowFailure[];
  readonly callerStack: string | undefined;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

type State = 'handshake' | 'open' | 'closed';

/** Whether a peer's HELLO leaves OpenFlow 1.3 as the common version. */
function peerSpeaks13(hello: Extract<ParsedMessage, { type: 'hello' }>): boolean {
  // With a bitmap, the common versions are the intersection; without, the peer speaks every
  // version up to its header's, and both sides then use the lower of the two headers.
  return hello.versions.length > 0 ? hello.versions.includes(OFP_VERSION) : hello.header.version >= OFP_VERSION;
}

export class OpenFlowConnection {
  /**
   * Resolves (never rejects) once the connection is gone, by close() or because the switch closed
   * it (vswitchd exited or restarted): `closeReason` then says which. Every call pending by then
   * has rejected with OpenFlowClosedError.
   */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private reason: OpenFlowClosedError | undefined;
  private state: State = 'handshake';
  private readonly parser = new OpenFlowParser();
  private lastXid = 0;
  private readonly byModXid = new Map<number, { batch: Batch; index: number }>();
  private readonly byBarrierXid = new Map<number, Batch>();
  private readonly byBundleXid = new Map<number, BundleTransaction>();
  private lastBundleId = 0;
  private writes: Promise<void> = Promise.resolve();
  private socketError: Error | undefined;
  private handshakeDone: ((e?: Error) => void) | undefined;

  private constructor(private readonly socket: Socket, readonly path: string, private readonly requestTimeoutMs: number) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => (this.socketError ??= e));
    socket.on('close', () => this.finish(new OpenFlowClosedError(path, this.state !== 'closed', { cause: this.socketError })));
  }

  /**
   * Connects to the unix socket at `path` and agrees on OpenFlow 1.3. Fails with
   * OpenFlowConnectError (no such socket, refused), OpenFlowVersionError (the peer does not speak
   * 1.3), OpenFlowTimeoutError or OpenFlowClosedError (the peer hung up during the handshake).
   */
  static async connect(path: string, options: ConnectOptions = {}): Promise<OpenFlowConnection> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const socket = await openSocket(path, timeoutMs);
    const conn = new OpenFlowConnection(socket, path, options.requestTimeoutMs ?? 60_000);
    try {
      await conn.handshake(Math.max(1, deadline - Date.now()), timeoutMs);
    } catch (e) {
      // end(), not destroy(): a HELLO_FAILED we wrote to a peer without 1.3 still reaches it.
      socket.end();
      setTimeout(() => socket.destroy(), 500).unref();
      throw e;
    }
    return conn;
  }

  /**
   * Writes every flow mod, then one barrier, in as few writes as the socket takes; resolves once
   * the barrier is answered and no mod was refused. Otherwise rejects with OpenFlowFlowError
   * listing each refused mod (by its label, or table/priority/match) with the switch's error
   * names. The mods of the batch the switch accepted stay applied: OpenFlow has no transaction.
   * A mod that cannot be encoded rejects with OpenFlowEncodeError before anything is written.
   *
   * With `{ bundle: true }` the mods go in one bundle (ids unique on this connection), committed
   * ATOMIC | ORDERED; resolves on the commit reply. A bundle that fails commits nothing: refused
   * mods (at add or commit time) reject with OpenFlowFlowError naming them (its bundleId set)
   * and the bundle is discarded; a refused open or commit with no mod to blame rejects with
   * OpenFlowBundleError. An empty batch is just a barrier.
   */
  apply(mods: readonly LabeledFlowMod[], options: ApplyOptions = {}): Promise<void> {
    const callerStack = new Error().stack;
    if (this.state !== 'open') return Promise.reject(new OpenFlowClosedError(this.path, false, { callerStack }));
    if (options.bundle && mods.length > 0) return this.applyBundle(mods, callerStack);
    let buffers: Buffer[];
    const xids: number[] = [];
    try {
      buffers = mods.map((mod, i) => {
        const xid = this.nextXid();
        xids.push(xid);
        return serializeFlowMod(mod, xid, mod.label === undefined ? `mods[${i}]` : `mods[${i}](${mod.label})`);
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const barrierXid = this.nextXid();
    buffers.push(serialize({ type: 'barrier_request' }, barrierXid));
    return new Promise<void>((resolve, reject) => {
      const batch: Batch = { mods, xids, barrierXid, failures: [], callerStack, resolve, reject, timer: undefined };
      xids.forEach((xid, index) => this.byModXid.set(xid, { batch, index }));
      this.byBarrierXid.set(barrierXid, batch);
      if (this.requestTimeoutMs > 0) {
        batch.timer = setTimeout(() => {
          // Late replies for these xids are ignored; what the switch did with the mods is unknown.
          this.forget(batch);
          reject(new OpenFlowTimeoutError(`${this.path}: barrier after ${mods.length} flow mods`, this.requestTimeoutMs, callerStack));
        }, this.requestTimeoutMs);
      }
      this.send(buffers);
    });
  }

  private async applyBundle(mods: readonly LabeledFlowMod[], callerStack: string | undefined): Promise<void> {
    this.lastBundleId = (this.lastBundleId + 1) >>> 0 || 1;
    const bundleId = this.lastBundleId;
    const link: BundleLink = {
        path: this.path,
        nextXid: () => this.nextXid(),
        send: (buffers) => this.send(buffers),
        route: (xids, txn) => xids.forEach((xid) => this.byBundleXid.set(xid, txn)),
        unroute: (xids) => xids.forEach((xid) => this.byBundleXid.delete(xid)),
      isOpen: () => this.state === 'open',
    };
    // Encoding errors throw here, before anything is routed or written.
    const encoded = await encodeBundle(link, bundleId, mods);
    if (this.state !== 'open') throw this.closeReason ?? new OpenFlowClosedError(this.path, false);
    return new Promise<void>((resolve, reject) => {
      new BundleTransaction(link, bundleId, mods, encoded, callerStack, resolve, reject).start(this.requestTimeoutMs);
    });
  }

  /** Queues `buffers` after everything queued before: batches are never interleaved. */
  private send(buffers: readonly Buffer[]): void {
    this.writes = this.writes.then(() => this.writeAll(buffers)).catch((e: unknown) => {
      // A write that throws leaves the stream in an unknown state: close, which rejects the batches.
      this.socketError ??= e instanceof Error ? e : new Error(String(e));
      this.socket.destroy();
    });
  }

  /** Why the connection is gone (`byPeer`: the switch closed it); undefined while it is open. */
  get closeReason(): OpenFlowClosedError | undefined {
    return this.reason;
  }

  /** Resolves once the switch has handled everything sent before. */
  barrier(): Promise<void> {
    return this.apply([]);
  }

  /** Closes the connection; pending calls reject with OpenFlowClosedError (byPeer false). */
  async close(): Promise<void> {
    if (this.state === 'closed') {
      await this.closed;
      return;
    }
    this.finish(new OpenFlowClosedError(this.path, false));
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    await new Promise<void>((resolve) => (this.socket.closed ? resolve() : this.socket.once('close', () => resolve())));
    clearTimeout(t);
  }

  private nextXid(): number {
    this.lastXid = (this.lastXid + 1) >>> 0 || 1; // 0 is left for unsolicited messages
    return this.lastXid;
  }

  private handshake(timeoutMs: number, totalMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new OpenFlowTimeoutError(`${this.path}: OpenFlow handshake`, totalMs)), timeoutMs);
      const done = (e?: Error): void => {
        clearTimeout(timer);
        this.handshakeDone = undefined;
        if (e) reject(e);
        else resolve();
      };
      this.handshakeDone = done;
      this.socket.write(serialize({ type: 'hello', versions: [OFP_VERSION] }, this.nextXid()));
    });
  }

  private onData(chunk: Buffer): void {
    let msgs: ParsedMessage[];
    try {
      msgs = this.parser.push(chunk);
    } catch (e) {
      // Framing is lost: nothing later on this stream can be trusted.
      this.socketError = e instanceof OpenFlowDecodeError ? e : new OpenFlowError(String(e));
      this.socket.destroy();
      return;
    }
    for (const m of msgs) {
      if (this.state === 'closed') return;
      if (this.state === 'handshake') this.onHandshakeMessage(m);
      else this.onMessage(m);
    }
  }

  private onHandshakeMessage(m: ParsedMessage): void {
    const done = this.handshakeDone;
    if (!done) return;
    if (m.type === 'hello') {
      if (peerSpeaks13(m)) {
        this.state = 'open';
        done();
        return;
      }
      const offered = m.versions.length ? m.versions : [m.header.version];
      const text = Buffer.from('this client speaks OpenFlow 1.3 only');
      this.socket.end(serialize({ type: 'error', errorType: OFPET.HELLO_FAILED, errorCode: OFPHFC.INCOMPATIBLE, data: text }, m.header.xid));
      done(new OpenFlowVersionError(this.path, `the switch offers OpenFlow wire versions ${offered.join(',')}, not 4 (1.3)`, offered));
    } else if (m.type === 'error') {
      done(m.errorType === OFPET.HELLO_FAILED
        ? new OpenFlowVersionError(this.path, `the switch refused our HELLO (OpenFlow 1.3 only): ${m.typeName}/${m.codeName}`, [])
        : new OpenFlowError(`${this.path}: handshake refused: ${m.typeName}/${m.codeName}`));
    } else {
      done(new OpenFlowError(`${this.path}: expected HELLO first, got message type ${m.header.type}`));
    }
  }

  private onMessage(m: ParsedMessage): void {
    const txn = m.type === 'echo_request' ? undefined : this.byBundleXid.get(m.header.xid);
    if (txn) {
      txn.onMessage(m);
      return;
    }
    switch (m.type) {
      case 'echo_request':
        this.socket.write(serialize({ type: 'echo_reply', data: m.data }, m.header.xid));
        return;
      case 'error': {
        const owner = this.byModXid.get(m.header.xid);
        if (owner) {
          const { batch, index } = owner;
          const mod = batch.mods[index]!;
          batch.failures.push({
            xid: m.header.xid, flow: mod.label ?? describeFlow(mod.flow), label: mod.label, mod, errorType: m.errorType, errorCode: m.errorCode,
            typeName: m.typeName, codeName: m.codeName,
          });
          return;
        }
        const batch = this.byBarrierXid.get(m.header.xid);
        if (batch) {
          this.forget(batch);
          batch.reject(new OpenFlowError(`${this.path}: the switch refused the barrier: ${m.typeName}/${m.codeName}`, { callerStack: batch.callerStack }));
        }
        // Other errors answer nothing we wait for (xid 0 or a timed-out batch): nobody to tell.
        return;
      }
      case 'barrier_reply': {
        const batch = this.byBarrierXid.get(m.header.xid);
        if (!batch) return;
        this.forget(batch);
        if (batch.failures.length) batch.reject(new OpenFlowFlowError(batch.failures, batch.mods.length, batch.callerStack));
        else batch.resolve();
        return;
      }
      default:
        // Asynchronous messages (port status and the like) are not this client's business.
        return;
    }
  }

  private forget(batch: Batch): void {
    clearTimeout(batch.timer);
    for (const xid of batch.xids) this.byModXid.delete(xid);
    this.byBarrierXid.delete(batch.barrierXid);
  }

  /** Writes `buffers` in chunks of about CHUNK_BYTES, waiting for 'drain' when the socket is full. */
  private async writeAll(buffers: readonly Buffer[]): Promise<void> {
    let chunk: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < buffers.length; i++) {
      chunk.push(buffers[i]!);
      size += buffers[i]!.length;
      if (size < CHUNK_BYTES && i < buffers.length - 1) continue;
      if (this.state !== 'open') return; // the batches were rejected when it closed
      if (!this.socket.write(chunk.length === 1 ? chunk[0]! : Buffer.concat(chunk, size))) await this.drained();
      chunk = [];
      size = 0;
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Called once: rejects whatever waits, then announces `closed`. */
  private finish(reason: OpenFlowClosedError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.handshakeDone?.(reason);
    const batches = new Set(this.byBarrierXid.values());
    for (const batch of batches) {
      this.forget(batch);
      batch.reject(new OpenFlowClosedError(this.path, reason.byPeer, { cause: reason.cause, callerStack: batch.callerStack }));
    }
    for (const txn of new Set(this.byBundleXid.values())) {
      txn.fail(new OpenFlowClosedError(this.path, reason.byPeer, { cause: reason.cause, callerStack: txn.callerStack }));
    }
    this.reason = reason;
    this.resolveClosed();
  }
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OpenFlowTimeoutError(`${path}: connect`, timeoutMs));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ENOENT' ? 'no such socket (is ovs-vswitchd running, and the bridge there?)' : e.code ?? e.message;
      reject(new OpenFlowConnectError(path, why, e));
    });
  });
}
