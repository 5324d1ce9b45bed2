// NetlinkSocket over a fake transport: what is written, how replies (captured from the kernel,
// re-sequenced) are matched, and how failures spread. No kernel, no root.
import type { SysError } from '@merak/native';
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, SOL_NETLINK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUFFORCE } from '@merak/native';
import { describe, expect, it } from 'vitest';
import { NetlinkBatch } from './batch.js';
import { IFF, NLM_F, RTM } from './constants.js';
import { NetlinkError, NetlinkSocketError, isExists } from './errors.js';
import type { IfInfoMessage, Request } from './messages.js';
import { NetlinkSocket, type NetlinkTransport } from './socket.js';
import { CAPTURED } from './testdata/captured.js';
import { doneReply, errorReply, messageBoundaries, reseq } from './testdata/kernel-replies.js';

class FakeKernel implements NetlinkTransport {
  readonly sent: Buffer[] = [];
  readonly sockopts: Array<[number, number, number]> = [];
  refs: string[] = [];
  closed = false;
  failSend: SysError | undefined;
  refuseForce = false;
  deliver!: (datagrams: Buffer[], senders: Array<number | string | null>) => void;
  fail!: (err: SysError) => void;

  sendTo(data: Uint8Array): number {
    if (this.failSend) throw this.failSend;
    this.sent.push(Buffer.from(data));
    return data.length;
  }
  setsockopt(level: number, name: number, value: number): void {
    if (this.refuseForce && (name === SO_RCVBUFFORCE || name === SO_SNDBUFFORCE)) throw sysError('EPERM', 1);
    this.sockopts.push([level, name, value]);
  }
  bindNetlink(): number {
    return 4242;
  }
  ref(): void {
    this.refs.push('ref');
  }
  unref(): void {
    this.refs.push('unref');
  }
  close(): void {
    this.closed = true;
  }
  /** Replies from the kernel (port 0), one datagram each. */
  reply(...datagrams: Buffer[]): void {
    this.deliver(datagrams, datagrams.map(() => 0));
  }
  seqOf(i: number): number {
    return this.sent[i]!.readUInt32LE(8);
  }
}

function sysError(code: string, errno: number): SysError {
  return Object.assign(new Error(`${code}: fake`), { code, errno, syscall: 'recvfrom' });
}

function open(options = {}): { sock: NetlinkSocket; kernel: FakeKernel } {
  const kernel = new FakeKernel();
  const sock = new NetlinkSocket((onMessages, onError) => {
    kernel.deliver = onMessages;
    kernel.fail = onError;
    return kernel;
  }, options);
  return { sock, kernel };
}

const setUp = (index: number): Request => ({ type: RTM.NEWLINK, body: { kind: 'link', index, flags: IFF.UP, change: IFF.UP } });
const dumpLinks: Request = { type: RTM.GETLINK, body: { kind: 'link' } };
const names = (msgs: unknown[]) => (msgs as IfInfoMessage[]).filter((m) => m.kind === 'link').map((m) => m.attrs.ifname);

describe('NetlinkSocket', () => {
  it('binds and asks for extended ACKs, capped ACKs and 8 MiB buffers', () => {
    const { sock, kernel } = open();
    expect(sock.portId).toBe(4242);
    expect(kernel.sockopts).toEqual([
      [SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20], [SOL_SOCKET, SO_SNDBUFFORCE, 8 << 20], [SOL_NETLINK, NETLINK_EXT_ACK, 1], [SOL_NETLINK, NETLINK_CAP_ACK, 1],
    ]);
    expect(kernel.refs).toEqual(['unref']);
  });

  it('falls back to SO_RCVBUF when forcing the size is not permitted', () => {
    const kernel = new FakeKernel();
    kernel.refuseForce = true;
    new NetlinkSocket(() => kernel);
    expect(kernel.sockopts[0]).toEqual([SOL_SOCKET, SO_RCVBUF, 8 << 20]);
  });

  it('writes every request at once and matches ACKs by sequence, in any order', async () => {
    const { sock, kernel } = open();
    const results = [1, 2, 3].map((i) => sock.ack(setUp(i), `ifindex ${i}`).then(() => 'ok', (e: unknown) => e));
    expect(kernel.sent).toHaveLength(3);
    expect(kernel.sent.map((b) => b.readUInt32LE(12))).toEqual([4242, 4242, 4242]);
    expect(kernel.refs.at(-1)).toBe('ref');
    // One datagram, replies out of order; the second request fails.
    kernel.reply(Buffer.concat([errorReply(kernel.sent[2]!, 0), errorReply(kernel.sent[1]!, 17, 'ipv4: Address already assigned'), errorReply(kernel.sent[0]!, 0)]));
    const [a, b, c] = await Promise.all(results);
    expect([a, c]).toEqual(['ok', 'ok']);
    expect(b).toBeInstanceOf(NetlinkError);
    expect(isExists(b)).toBe(true);
    expect(b).toMatchObject({ errno: 17, code: 'EEXIST', extack: 'ipv4: Address already assigned', requestType: 'RTM_NEWLINK', object: 'ifindex 2' });
    expect(kernel.refs.at(-1)).toBe('unref');
  });

  it('puts the caller\'s stack on a kernel error that arrives on a later tick', async function callerOfTheRequest() {
    const { sock, kernel } = open();
    const p = sock.ack(setUp(1)).catch((e: unknown) => e);
    setImmediate(() => kernel.reply(errorReply(kernel.sent[0]!, 19)));
    const e = (await p) as NetlinkError;
    expect(e.code).toBe('ENODEV');
    expect(e.stack).toContain('callerOfTheRequest');
  });

  it('assembles a dump spread over several datagrams until NLMSG_DONE', async () => {
    const { sock, kernel } = open();
    const p = sock.dump(dumpLinks);
    expect(kernel.sent[0]!.readUInt16LE(6)).toBe(NLM_F.REQUEST | NLM_F.DUMP);
    const seq = kernel.seqOf(0);
    for (const d of CAPTURED.linkDumpCapA) kernel.reply(reseq(d, seq));
    expect(names(await p)).toEqual(['lo', 'v1', 'v0', 'v2']);
  });

  it('collects reply messages up to the ACK', async () => {
    const { sock, kernel } = open();
    const p = sock.request({ type: RTM.GETLINK, body: { kind: 'link', attrs: { ifname: 'v0' } } }, { expect: 'reply' });
    expect(kernel.sent[0]!.readUInt16LE(6)).toBe(NLM_F.REQUEST | NLM_F.ACK);
    kernel.reply(reseq(CAPTURED.getLinkReply, kernel.seqOf(0)), errorReply(kernel.sent[0]!, 0));
    expect(names(await p)).toEqual(['v0']);
  });

  it('runs one dump at a time (the kernel answers EBUSY to a second) while ACK requests go straight out', async () => {
    const { sock, kernel } = open();
    const first = sock.dump(dumpLinks);
    const second = sock.dump(dumpLinks);
    const ack = sock.ack(setUp(1));
    expect(kernel.sent.map((b) => b.readUInt16LE(4))).toEqual([RTM.GETLINK, RTM.NEWLINK]);
    kernel.reply(errorReply(kernel.sent[1]!, 0));
    await ack;
    kernel.reply(reseq(CAPTURED.linkDumpCapB[0]!, kernel.seqOf(0)), reseq(CAPTURED.linkDumpCapB[1]!, kernel.seqOf(0)));
    expect(names(await first)).toEqual(['lo', 'v3']);
    expect(kernel.sent).toHaveLength(3);
    kernel.reply(reseq(Buffer.concat(CAPTURED.linkDumpCapB), kernel.seqOf(2)));
    expect(names(await second)).toEqual(['lo', 'v3']);
  });

  it('retries a dump marked NLM_F_DUMP_INTR and returns only the clean attempt', async () => {
    const { sock, kernel } = open();
    const p = sock.dump(dumpLinks);
    kernel.reply(reseq(CAPTURED.linkDumpCapA[0]!, kernel.seqOf(0), NLM_F.DUMP_INTR), reseq(CAPTURED.linkDumpCapA[2]!, kernel.seqOf(0)));
    expect(kernel.sent).toHaveLength(2);
    expect(kernel.seqOf(1)).not.toBe(kernel.seqOf(0));
    for (const d of CAPTURED.linkDumpCapB) kernel.reply(reseq(d, kernel.seqOf(1)));
    expect(names(await p)).toEqual(['lo', 'v3']);
    expect(sock.stats.dumpRetries).toBe(1);
  });

  it('gives up on a dump interrupted more often than allowed, with EINTR', async () => {
    const { sock, kernel } = open({ dumpRetries: 2 });
    const p = sock.dump(dumpLinks, 'links').catch((e: unknown) => e);
    for (let i = 0; i < 3; i++) kernel.reply(doneReply(kernel.seqOf(i), 0, NLM_F.MULTI | NLM_F.DUMP_INTR));
    expect(kernel.sent).toHaveLength(3);
    const e = (await p) as NetlinkError;
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.code).toBe('EINTR');
    expect(e.message).toMatch(/interrupted by concurrent changes 3 times/);
  });

  it('rejects a dump whose NLMSG_DONE carries an error, and starts the next dump', async () => {
    const { sock, kernel } = open();
    const first = sock.dump(dumpLinks).catch((e: unknown) => e);
    const second = sock.dump(dumpLinks);
    kernel.reply(doneReply(kernel.seqOf(0), 90));
    expect(await first).toMatchObject({ code: 'EMSGSIZE' });
    kernel.reply(reseq(Buffer.concat(CAPTURED.linkDumpCapB), kernel.seqOf(1)));
    expect(names(await second)).toEqual(['lo', 'v3']);
  });

  it('ignores notifications, unknown sequence numbers and datagrams not from the kernel', async () => {
    const { sock, kernel } = open();
    const p = sock.ack(setUp(1));
    kernel.reply(reseq(CAPTURED.getLinkReply, 0), reseq(CAPTURED.addrAddAck, 999));
    kernel.deliver([errorReply(kernel.sent[0]!, 1)], [77]);
    kernel.reply(errorReply(kernel.sent[0]!, 0));
    await expect(p).resolves.toBeUndefined();
  });

  it('rejects everything pending with ENOBUFS when the receive buffer overran, and keeps working', async () => {
    const { sock, kernel } = open();
    const pending = [sock.ack(setUp(1), 'one'), sock.dump(dumpLinks), sock.dump(dumpLinks)].map((p) => p.catch((e: unknown) => e));
    kernel.fail(sysError('ENOBUFS', 105));
    for (const e of await Promise.all(pending)) {
      expect(e).toBeInstanceOf(NetlinkError);
      expect((e as NetlinkError).code).toBe('ENOBUFS');
      expect((e as NetlinkError).message).toMatch(/receive buffer overran/);
    }
    const next = sock.ack(setUp(2));
    kernel.reply(errorReply(kernel.sent.at(-1)!, 0));
    await expect(next).resolves.toBeUndefined();
  });

  it('close() rejects what is pending and refuses new requests', async () => {
    const { sock, kernel } = open();
    const p = sock.ack(setUp(1)).catch((e: unknown) => e);
    sock.close();
    expect(kernel.closed).toBe(true);
    expect(await p).toMatchObject({ reason: 'closed' });
    await expect(sock.ack(setUp(1))).rejects.toBeInstanceOf(NetlinkSocketError);
  });

  it('rejects a request whose write fails, without disturbing the others', async () => {
    const { sock, kernel } = open();
    const ok = sock.ack(setUp(1));
    kernel.failSend = sysError('EAGAIN', 11);
    await expect(sock.ack(setUp(2), 'two')).rejects.toMatchObject({ code: 'EAGAIN', object: 'two' });
    kernel.failSend = undefined;
    kernel.reply(errorReply(kernel.sent[0]!, 0));
    await expect(ok).resolves.toBeUndefined();
  });

  it('accepts a builder function and rebuilds it with a new sequence number on retry', async () => {
    const { sock, kernel } = open();
    const seen: number[] = [];
    const p = sock.request((seq, pid) => {
      seen.push(seq);
      const b = Buffer.alloc(32);
      b.writeUInt32LE(32, 0); b.writeUInt16LE(RTM.GETLINK, 4); b.writeUInt16LE(NLM_F.REQUEST | NLM_F.DUMP, 6); b.writeUInt32LE(seq, 8); b.writeUInt32LE(pid, 12);
      return b;
    }, { expect: 'dump' });
    kernel.reply(doneReply(kernel.seqOf(0), 0, NLM_F.MULTI | NLM_F.DUMP_INTR));
    kernel.reply(doneReply(kernel.seqOf(1)));
    await expect(p).resolves.toEqual([]);
    expect(seen).toEqual([kernel.seqOf(0), kernel.seqOf(1)]);
  });
});

describe('NetlinkSocket: replies cut at every byte offset into two datagrams', () => {
  // Netlink never splits a message across datagrams; if bytes arrive cut, the socket must fail the
  // pending requests with a typed error instead of crashing or resolving with half a message.
  const cases: Array<[string, Buffer]> = [
    ['link dump (two links + DONE)', Buffer.concat(CAPTURED.linkDumpCapB)],
    ['addr dump (four addresses + DONE)', Buffer.concat(CAPTURED.addrDumpCapA)],
    ['neigh dump', CAPTURED.neighDumpCapA[0]!],
  ];
  it.each(cases)('%s', async (_name, reply) => {
    const { sock: ref, kernel: refKernel } = open();
    const expected = ref.dump(dumpLinks);
    refKernel.reply(reseq(reply, refKernel.seqOf(0)));
    const want = await expected;
    const boundaries = messageBoundaries(reply);
    for (let k = 1; k < reply.length; k++) {
      const { sock, kernel } = open();
      const p = sock.dump(dumpLinks).then((v) => ({ ok: v }), (e: unknown) => ({ err: e }));
      const datagram = reseq(reply, kernel.seqOf(0));
      kernel.reply(datagram.subarray(0, k), datagram.subarray(k));
      const r = await p;
      if (boundaries.has(k)) expect(r).toEqual({ ok: want });
      else expect((r as { err: unknown }).err).toMatchObject({ name: 'NetlinkSocketError', reason: 'decode' });
    }
  });
});

describe('NetlinkSocket over a lane (sendAsync)', () => {
  /** A transport whose sends complete later, as a KernelLane's do; `settle` runs them in order. */
  class LaneKernel extends FakeKernel {
    readonly queued: Array<{ data: Buffer; resolve: () => void; reject: (e: Error) => void }> = [];
    override sendTo(): number {
      throw new Error('sendTo must not be used when sendAsync exists');
    }
    sendAsync(data: Uint8Array): Promise<unknown> {
      return new Promise<void>((resolve, reject) => this.queued.push({ data: Buffer.from(data), resolve, reject }));
    }
    settle(fail?: SysError): void {
      for (const q of this.queued.splice(0)) {
        if (fail) q.reject(fail);
        else {
          this.sent.push(q.data);
          q.resolve();
        }
      }
    }
  }
  const openLane = (): { sock: NetlinkSocket; kernel: LaneKernel } => {
    const kernel = new LaneKernel();
    const sock = new NetlinkSocket((onMessages, onError) => {
      kernel.deliver = onMessages;
      kernel.fail = onError;
      return kernel;
    });
    return { sock, kernel };
  };

  it('hands requests over in order and matches ACKs that arrive before the send completed', async () => {
    const { sock, kernel } = openLane();
    const results = [1, 2, 3].map((i) => sock.ack(setUp(i), `ifindex ${i}`));
    expect(kernel.queued.map((q) => q.data.readUInt32LE(20))).toEqual([1, 2, 3]);
    expect(kernel.refs.at(-1)).toBe('ref');
    // The kernel answered inside sendto; the lane reports completion afterwards.
    const datagrams = kernel.queued.map((q) => q.data);
    kernel.reply(...datagrams.map((d) => errorReply(d, 0)));
    await Promise.all(results);
    kernel.settle();
    expect(kernel.sent).toHaveLength(3);
    await new Promise((r) => setImmediate(r));
    expect(kernel.refs.at(-1)).toBe('unref');
  });

  it('fails only the request whose send failed, with the errno, and keeps the socket usable', async () => {
    const { sock, kernel } = openLane();
    const first = sock.ack(setUp(1), 'ifindex 1').catch((e: unknown) => e);
    kernel.settle(sysError('ENOBUFS', 105));
    const e = await first;
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e).toMatchObject({ errno: 105, requestType: 'RTM_NEWLINK', object: 'ifindex 1' });
    expect((e as Error).message).toContain('sendto failed');
    const second = sock.ack(setUp(2));
    kernel.settle();
    kernel.reply(errorReply(kernel.sent[0]!, 0));
    await expect(second).resolves.toBeUndefined();
  });

  it('ignores a late send failure for a request the socket already failed on close', async () => {
    const { sock, kernel } = openLane();
    const p = sock.ack(setUp(1)).catch((e: unknown) => e);
    sock.close();
    expect(await p).toMatchObject({ name: 'NetlinkSocketError', reason: 'closed' });
    kernel.settle(sysError('EBADF', 9));
    await new Promise((r) => setImmediate(r));
  });
});

describe('NetlinkBatch', () => {
  it('records the bytes the socket would send, with consecutive sequence numbers', async () => {
    const batch = new NetlinkBatch(10, 0);
    await Promise.all([batch.request(setUp(1), { expect: 'ack' }), batch.request(dumpLinks, { expect: 'dump' })]);
    expect(batch.recorded.map((r) => [r.seq, r.requestType, r.expect])).toEqual([[10, 'RTM_NEWLINK', 'ack'], [11, 'RTM_GETLINK', 'dump']]);
    const { sock, kernel } = open();
    void sock.ack(setUp(1)).catch(() => undefined);
    const live = Buffer.from(kernel.sent[0]!);
    live.writeUInt32LE(10, 8);
    live.writeUInt32LE(0, 12);
    expect(batch.recorded[0]!.bytes.equals(live)).toBe(true);
    expect(batch.bytes().length).toBe(batch.recorded[0]!.bytes.length + batch.recorded[1]!.bytes.length);
    sock.close();
  });
});
