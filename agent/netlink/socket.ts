// A NETLINK_ROUTE socket with pipelined requests: each request is written at once, replies are
// matched by sequence number, dumps are assembled across datagrams until NLMSG_DONE.
import {
  type KernelLane, NETLINK_CAP_ACK, type NativeSocket, NETLINK_EXT_ACK, SOL_NETLINK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF, SO_SNDBUFFORCE, type SysError,
  isSysError, openSocket,
} from '@merak/native';
import { errorMessage } from '@merak/common';
import { NLM_F, messageTypeName } from './constants.js';
import { ERRNO, NetlinkError, NetlinkSocketError } from './errors.js';
import type { Expect, NetlinkMessage, Request } from './messages.js';
import { parseDatagram } from './parser.js';
import { serializeFor } from './serializer.js';

/** Builds a complete request (header included) given its sequence number and our port id. */
export type RequestBuilder = (seq: number, pid: number) => Buffer;

export interface RequestOptions {
  readonly expect: Expect;
  /** What the request is about, for error messages (a link name, "10.0.0.2/24 dev 3"). */
  readonly object?: string;
}

/** What the per-namespace API needs from a socket; NetlinkBatch records instead of sending. */
export interface NetlinkRequester {
  /**
   * Sends at once and settles when the kernel answers: [] on an ACK, the dump's messages on
   * NLMSG_DONE, the reply messages before the ACK for 'reply'. A kernel error rejects with NetlinkError.
   */
  request(input: Request | RequestBuilder, options: RequestOptions): Promise<NetlinkMessage[]>;
}

/** The part of @merak/native's NativeSocket this class uses (a fake in tests). */
export interface NetlinkTransport {
  sendTo(data: Uint8Array, to: number): number;
  /**
   * When present, requests go through here instead of sendTo: sent off the JS thread, in the
   * order they were handed over (what a KernelLane does), rejecting only if the send failed.
   */
  sendAsync?(data: Uint8Array): Promise<unknown>;
  setsockopt(level: number, name: number, value: number): void;
  bindNetlink(groups: number): number;
  ref(): void;
  unref(): void;
  close(): void;
}

export type TransportOpener = (
  onMessages: (datagrams: Buffer[], senders: Array<number | string | null>) => void,
  onError: (err: SysError) => void,
) => NetlinkTransport;

export interface NetlinkSocketOptions {
  /** SO_RCVBUF/SO_SNDBUF in bytes (forced past rmem_max when privileged). Default 8 MiB. */
  readonly bufferBytes?: number;
  /** How often an interrupted dump (NLM_F_DUMP_INTR) is retried before failing. Default 5. */
  readonly dumpRetries?: number;
  /** Send through this lane (in order, off the JS thread) instead of a synchronous sendto. */
  readonly lane?: KernelLane;
}

export interface NetlinkSocketStats {
  datagrams: number;
  messages: number;
  requests: number;
  dumpRetries: number;
}

interface Pending {
  seq: number;
  readonly expect: Expect;
  readonly build: RequestBuilder;
  requestType: string;
  readonly object: string | undefined;
  /** Captured when the request is made; its stack is formatted only if an error needs it. */
  readonly caller: Error;
  messages: NetlinkMessage[];
  interrupted: boolean;
  attempts: number;
  readonly resolve: (messages: NetlinkMessage[]) => void;
  readonly reject: (e: Error) => void;
}

const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;
const DEFAULT_DUMP_RETRIES = 5;

export class NetlinkSocket implements NetlinkRequester {
  /** Our netlink port id (nl_pid), assigned by the kernel at bind. */
  readonly portId: number;
  readonly stats: NetlinkSocketStats = { datagrams: 0, messages: 0, requests: 0, dumpRetries: 0 };
  private readonly transport: NetlinkTransport;
  private readonly dumpRetries: number;
  private readonly pending = new Map<number, Pending>();
  // The kernel runs one dump per socket at a time (a second gets EBUSY), so dumps queue here.
  private readonly dumpQueue: Pending[] = [];
  private activeDump: Pending | undefined;
  private lastSeq = 0;
  private closed = false;
  private referenced = true;

  /** Takes ownership of a NETLINK_ROUTE socket fd, opened in the namespace it should talk to. */
  static fromFd(fd: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const { lane } = options;
    return new NetlinkSocket((onMessages, onError) => {
      const socket = openSocket(fd, onMessages, onError);
      return lane === undefined ? socket : throughLane(socket, lane);
    }, options);
  }

  constructor(open: TransportOpener, options: NetlinkSocketOptions = {}) {
    this.dumpRetries = options.dumpRetries ?? DEFAULT_DUMP_RETRIES;
    this.transport = open((datagrams, senders) => this.onDatagrams(datagrams, senders), (e) => this.onError(e));
    try {
      const bytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
      setBuffer(this.transport, SO_RCVBUFFORCE, SO_RCVBUF, bytes);
      setBuffer(this.transport, SO_SNDBUFFORCE, SO_SNDBUF, bytes);
      this.transport.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1);
      // Errors echo only the request's header, not the whole request.
      this.transport.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1);
      this.portId = this.transport.bindNetlink(0);
    } catch (e) {
      this.transport.close();
      throw e;
    }
    this.updateRef();
  }

  request(input: Request | RequestBuilder, options: RequestOptions): Promise<NetlinkMessage[]> {
    // Formatting a stack (through source maps) costs more than the request itself, so only the
    // frames are captured here; .stack is read only when an error is built.
    const caller = new Error();
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      const build: RequestBuilder = typeof input === 'function' ? input : (seq, pid) => serializeFor(input, options.expect, seq, pid);
      const p: Pending = {
        seq: 0, expect: options.expect, build, requestType: typeof input === 'function' ? 'netlink request' : messageTypeName(input.type),
        object: options.object, caller, messages: [], interrupted: false, attempts: 0, resolve, reject,
      };
      if (this.closed) {
        reject(new NetlinkSocketError('closed', p.requestType, 'the netlink socket is closed', { callerStack: caller.stack }));
        return;
      }
      this.stats.requests++;
      if (p.expect === 'dump' && this.activeDump !== undefined) {
        this.dumpQueue.push(p);
        this.updateRef();
        return;
      }
      this.send(p);
    });
  }

  /** Sends a request and waits for its ACK. */
  async ack(input: Request | RequestBuilder, object?: string): Promise<void> {
    await this.request(input, { expect: 'ack', object });
  }

  /** Sends a dump request and returns every message up to NLMSG_DONE. */
  dump(input: Request | RequestBuilder, object?: string): Promise<NetlinkMessage[]> {
    return this.request(input, { expect: 'dump', object });
  }

  /** Rejects everything pending and closes the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll((p) => new NetlinkSocketError('closed', p.requestType, 'the netlink socket was closed before the kernel answered', {
      callerStack: p.caller.stack,
    }));
    this.transport.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private nextSeq(): number {
    // Sequence 0 is what kernel notifications carry; skip it on wrap.
    this.lastSeq = this.lastSeq >= 0xffffffff ? 1 : this.lastSeq + 1;
    return this.lastSeq;
  }

  private send(p: Pending): void {
    const seq = this.nextSeq();
    // Set before building, so a failure below still hands the dump slot to the next in the queue.
    if (p.expect === 'dump') this.activeDump = p;
    let bytes: Buffer;
    try {
      bytes = p.build(seq, this.portId);
    } catch (e) {
      p.reject(e instanceof Error ? e : new Error(String(e)));
      this.settled(p);
      return;
    }
    p.seq = seq;
    if (bytes.length >= 6) p.requestType = messageTypeName(bytes.readUInt16LE(4));
    this.pending.set(seq, p);
    if (this.transport.sendAsync) {
      this.transport.sendAsync(bytes).catch((e: unknown) => this.sendFailed(p, seq, e));
    } else {
      try {
        this.transport.sendTo(bytes, 0);
      } catch (e) {
        this.sendFailed(p, seq, e);
        return;
      }
    }
    this.updateRef();
  }

  /** The kernel never saw the request, so no reply will come: fail it (unless already failed). */
  private sendFailed(p: Pending, seq: number, e: unknown): void {
    if (this.pending.get(seq) !== p) return;
    this.pending.delete(seq);
    const errno = isSysError(e) ? e.errno : ERRNO.EIO;
    p.reject(new NetlinkError({ errno, requestType: p.requestType, object: p.object, callerStack: p.caller.stack,
      message: `${p.requestType}${p.object ? ` ${p.object}` : ''}: sendto failed: ${errorMessage(e)}` }));
    this.settled(p);
  }

  private onDatagrams(datagrams: Buffer[], senders: Array<number | string | null>): void {
    for (let i = 0; i < datagrams.length; i++) {
      const from = senders[i];
      // Only the kernel (port 0) answers our requests.
      if (typeof from === 'number' && from !== 0) continue;
      this.stats.datagrams++;
      const { messages, error } = parseDatagram(datagrams[i]!);
      this.stats.messages += messages.length;
      for (const m of messages) this.dispatch(m);
      if (error) {
        // The rest of the datagram is lost, so no pending request can be trusted to complete.
        this.failAll((p) => new NetlinkSocketError('decode', p.requestType, `a reply did not decode, outcome unknown: ${error.message}`, {
          cause: error, callerStack: p.caller.stack,
        }));
      }
    }
  }

  private dispatch(m: NetlinkMessage): void {
    const p = this.pending.get(m.header.seq);
    if (p === undefined) return; // a notification, or a reply to a request already failed
    if (m.kind === 'error') {
      if (m.errno === 0) this.finish(p, p.expect === 'ack' ? [] : p.messages);
      else this.finishWithError(p, m.errno, m.extack?.msg, m.extack?.offset);
      return;
    }
    if (m.kind === 'done') {
      if (m.errno !== 0) this.finishWithError(p, m.errno, m.extack?.msg, m.extack?.offset);
      else if (p.interrupted || (m.header.flags & NLM_F.DUMP_INTR) !== 0) this.retryDump(p);
      else this.finish(p, p.messages);
      return;
    }
    if ((m.header.flags & NLM_F.DUMP_INTR) !== 0) p.interrupted = true;
    p.messages.push(m);
  }

  private retryDump(p: Pending): void {
    this.pending.delete(p.seq);
    if (p.attempts >= this.dumpRetries) {
      p.reject(new NetlinkError({
        errno: ERRNO.EINTR, requestType: p.requestType, object: p.object, callerStack: p.caller.stack,
        message: `${p.requestType}${p.object ? ` ${p.object}` : ''}: dump interrupted by concurrent changes ${p.attempts + 1} times`,
      }));
      this.settled(p);
      return;
    }
    p.attempts++;
    this.stats.dumpRetries++;
    p.messages = [];
    p.interrupted = false;
    this.send(p);
  }

  private finish(p: Pending, messages: NetlinkMessage[]): void {
    this.pending.delete(p.seq);
    p.resolve(messages);
    this.settled(p);
  }

  private finishWithError(p: Pending, errno: number, extack: string | undefined, extackOffset: number | undefined): void {
    this.pending.delete(p.seq);
    p.reject(new NetlinkError({ errno, requestType: p.requestType, object: p.object, extack, extackOffset, callerStack: p.caller.stack }));
    this.settled(p);
  }

  /** After a request settled: start the next queued dump, drop the loop reference when idle. */
  private settled(p: Pending): void {
    if (p === this.activeDump) {
      this.activeDump = undefined;
      const next = this.dumpQueue.shift();
      if (next !== undefined) this.send(next);
    }
    this.updateRef();
  }

  private failAll(makeError: (p: Pending) => Error): void {
    const all = [...this.pending.values(), ...this.dumpQueue];
    this.pending.clear();
    this.dumpQueue.length = 0;
    this.activeDump = undefined;
    for (const p of all) p.reject(makeError(p));
    this.updateRef();
  }

  private onError(err: SysError): void {
    if (err.code === 'ENOBUFS') {
      this.failAll((p) => new NetlinkError({
        errno: ERRNO.ENOBUFS, requestType: p.requestType, object: p.object, callerStack: p.caller.stack,
        message: `${p.requestType}${p.object ? ` ${p.object}` : ''}: ENOBUFS: the socket's receive buffer overran and the kernel dropped replies; outcome unknown`,
      }));
      return;
    }
    this.failAll((p) => new NetlinkError({
      errno: err.errno, requestType: p.requestType, object: p.object, callerStack: p.caller.stack,
      message: `${p.requestType}${p.object ? ` ${p.object}` : ''}: socket error: ${err.message}`,
    }));
  }

  // An idle socket must not keep the process alive; one with requests in flight must.
  private updateRef(): void {
    const busy = !this.closed && (this.pending.size > 0 || this.dumpQueue.length > 0);
    if (busy === this.referenced) return;
    this.referenced = busy;
    if (busy) this.transport.ref();
    else this.transport.unref();
  }
}

/** The native socket, with requests sent through the lane. */
function throughLane(socket: NativeSocket, lane: KernelLane): NetlinkTransport {
  return {
    sendTo: (data, to) => socket.sendTo(data, to),
    sendAsync: (data) => lane.sendTo(socket, data),
    setsockopt: (level, name, value) => socket.setsockopt(level, name, value),
    bindNetlink: (groups) => socket.bindNetlink(groups),
    ref: () => socket.ref(),
    unref: () => socket.unref(),
    close: () => socket.close(),
  };
}

function setBuffer(t: NetlinkTransport, force: number, plain: number, bytes: number): void {
  try {
    t.setsockopt(SOL_SOCKET, force, bytes);
  } catch (e) {
    // Without CAP_NET_ADMIN the kernel caps the plain option at rmem_max/wmem_max.
    if (!isSysError(e) || e.code !== 'EPERM') throw e;
    t.setsockopt(SOL_SOCKET, plain, bytes);
  }
}
