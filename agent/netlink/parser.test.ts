// Parser tests over replies captured from the kernel (testdata/captured.ts). Every datagram is
// also cut at every byte offset: the prefix yields its complete messages and then a typed
// NetlinkDecodeError (never a crash or a half-read message), the suffix never throws.
import { describe, expect, it } from 'vitest';
import { AF, IFF, IN6_ADDR_GEN_MODE, NLM_F, NUD, RTM, RTPROT, RT_SCOPE } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import type { IfAddrMessage, IfInfoMessage, NdMessage, NetlinkMessage, RtMessage } from './messages.js';
import { parseDatagram, parseMessages } from './parser.js';
import { CAPTURED } from './testdata/captured.js';
import { messageBoundaries } from './testdata/kernel-replies.js';

const all = (datagrams: readonly Buffer[]): NetlinkMessage[] => datagrams.flatMap((d) => parseMessages(d));

describe('parser: captured kernel replies', () => {
  it('decodes a link dump across two datagrams: lo, and a veth whose peer lives in another namespace', () => {
    const msgs = all(CAPTURED.linkDumpCapB);
    expect(msgs.map((m) => m.kind)).toEqual(['link', 'link', 'done']);
    const [lo, v3] = msgs as [IfInfoMessage, IfInfoMessage];
    expect(lo).toMatchObject({ index: 1, deviceType: 772, attrs: { ifname: 'lo', mtu: 65536 } });
    expect(v3).toMatchObject({
      index: 3,
      header: { type: RTM.NEWLINK, flags: NLM_F.MULTI },
      attrs: {
        ifname: 'v3', mtu: 1450, address: '02:00:00:00:00:33', alias: 'peer-alias', linkInfo: { kind: 'veth' }, link: 5, linkNetnsId: 0,
        addrGenMode: IN6_ADDR_GEN_MODE.NONE, operstate: 2,
      },
    });
    expect(v3.flags & IFF.UP).toBe(0);
  });

  it('decodes a three-datagram link dump with up, lower-up and alias', () => {
    const links = all(CAPTURED.linkDumpCapA).filter((m): m is IfInfoMessage => m.kind === 'link');
    expect(links.map((l) => l.attrs.ifname)).toEqual(['lo', 'v1', 'v0', 'v2']);
    const v0 = links[2]!;
    expect(v0.flags & (IFF.UP | IFF.LOWER_UP)).toBe(IFF.UP | IFF.LOWER_UP);
    expect(v0.attrs).toMatchObject({ alias: 'hello', mtu: 1400, operstate: 6, link: 2, addrGenMode: IN6_ADDR_GEN_MODE.NONE });
  });

  it('decodes a single RTM_NEWLINK reply carrying stats it does not need', () => {
    const [m] = parseMessages(CAPTURED.getLinkReply) as [IfInfoMessage];
    expect(m).toMatchObject({ kind: 'link', index: 3, attrs: { ifname: 'v0', mtu: 1400, address: '02:00:00:00:00:01', linkInfo: { kind: 'veth' }, link: 2 } });
  });

  it('decodes IPv4 and IPv6 addresses in one dump', () => {
    const addrs = all(CAPTURED.addrDumpCapA).filter((m): m is IfAddrMessage => m.kind === 'addr');
    expect(addrs.map((a) => [a.family, a.attrs.local ?? a.attrs.address, a.prefixLength, a.index])).toEqual([
      [AF.INET, '127.0.0.1', 8, 1],
      [AF.INET, '10.1.2.3', 24, 3],
      [AF.INET6, '::1', 128, 1],
      [AF.INET6, 'fe80::e0a2:72ff:fe22:1225', 64, 2],
    ]);
    expect(addrs[1]!.attrs.label).toBe('v0');
  });

  it('decodes a filtered route dump', () => {
    const msgs = all(CAPTURED.routeDumpCapA);
    expect(msgs.at(-1)).toMatchObject({ kind: 'done', header: { flags: NLM_F.MULTI | NLM_F.DUMP_FILTERED }, errno: 0 });
    const routes = msgs.filter((m): m is RtMessage => m.kind === 'route');
    expect(routes.map((r) => [r.attrs.dst, r.dstLength, r.attrs.gateway, r.attrs.oif, r.protocol, r.scope])).toEqual([
      [undefined, 0, '10.1.2.1', 3, RTPROT.BOOT, RT_SCOPE.UNIVERSE],
      ['10.1.2.0', 24, undefined, 3, RTPROT.KERNEL, RT_SCOPE.LINK],
      ['10.9.0.0', 16, '10.1.2.1', 3, RTPROT.BOOT, RT_SCOPE.UNIVERSE],
    ]);
    expect(routes[1]!.attrs.prefsrc).toBe('10.1.2.3');
  });

  it('decodes neighbours of both families, the dump ending in the same datagram', () => {
    const msgs = all(CAPTURED.neighDumpCapA);
    expect(msgs.at(-1)!.kind).toBe('done');
    const [v4, ...v6] = msgs.filter((m): m is NdMessage => m.kind === 'neigh');
    expect(v4).toMatchObject({ family: AF.INET, index: 3, state: NUD.PERMANENT, attrs: { dst: '10.1.2.9', lladdr: '02:00:00:00:00:09' } });
    expect(v6.map((n) => n.attrs.dst)).toEqual(['ff02::16', 'ff02::1:ff22:1225', 'ff02::2']);
  });

  it('decodes an ACK (capped, no TLVs) as errno 0 with the request header', () => {
    const [m] = parseMessages(CAPTURED.addrAddAck);
    expect(m).toMatchObject({ kind: 'error', errno: 0, extack: undefined, request: { type: RTM.NEWADDR, length: 40 } });
  });

  it('decodes an error with the whole request echoed and the extack message after it', () => {
    expect(parseMessages(CAPTURED.addrAddExists)[0]).toMatchObject({
      kind: 'error', errno: 17, request: { type: RTM.NEWADDR, seq: 1795580847 }, extack: { msg: 'ipv4: Address already assigned' },
    });
    expect(parseMessages(CAPTURED.mtuTooSmall)[0]).toMatchObject({ kind: 'error', errno: 22, extack: { msg: 'mtu less than device minimum' } });
  });

  it('decodes an error without extack (EAFNOSUPPORT for IFLA_AF_SPEC at creation)', () => {
    expect(parseMessages(CAPTURED.addrGenModeAtCreateRefused)[0]).toMatchObject({ kind: 'error', errno: 97, extack: undefined });
  });

  it('keeps unknown message types as raw payload', () => {
    const b = Buffer.from('1400000058000000010000000000000001000000', 'hex');
    expect(parseMessages(b)[0]).toMatchObject({ kind: 'other', header: { type: 88 } });
  });
});

const DATAGRAMS: Array<[string, Buffer]> = Object.entries(CAPTURED).flatMap(([k, v]) =>
  (Array.isArray(v) ? (v as Buffer[]) : [v as Buffer]).map((b, i): [string, Buffer] => [`${k}[${i}]`, b]),
);

describe('parser: every datagram cut at every byte offset', () => {
  it.each(DATAGRAMS)('%s', (_name, datagram) => {
    const whole = parseMessages(datagram);
    const boundaries = messageBoundaries(datagram);
    for (let k = 0; k <= datagram.length; k++) {
      const head = parseDatagram(datagram.subarray(0, k));
      const complete = whole.filter((_m, i) => [...boundaries].sort((a, b) => a - b)[i + 1]! <= k);
      expect(head.messages).toEqual(complete);
      if (boundaries.has(k)) expect(head.error).toBeUndefined();
      else expect(head.error).toBeInstanceOf(NetlinkDecodeError);
      // The tail starts mid-message: it may decode as junk, but must not throw.
      expect(() => parseDatagram(datagram.subarray(k))).not.toThrow();
    }
  });
});

describe('parser: garbled input', () => {
  it('never throws anything but NetlinkDecodeError on random byte flips', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (const [, d] of DATAGRAMS) {
      for (let round = 0; round < 200; round++) {
        const b = Buffer.from(d);
        for (let i = 0; i < 1 + rand(4); i++) b[rand(b.length)] = rand(256);
        const r = parseDatagram(b);
        if (r.error) expect(r.error).toBeInstanceOf(NetlinkDecodeError);
      }
    }
  });

  it('reports a length that runs past the datagram', () => {
    const b = Buffer.from(CAPTURED.addrAddAck);
    b.writeUInt32LE(400, 0);
    expect(() => parseMessages(b)).toThrow(/NLMSG_ERROR at byte 0 claims 400 bytes, 36 left/);
  });

  it('reports a length below the header size (which would otherwise loop forever)', () => {
    const b = Buffer.from(CAPTURED.addrAddAck);
    b.writeUInt32LE(0, 0);
    expect(parseDatagram(b).error).toBeInstanceOf(NetlinkDecodeError);
  });

  it('reports a garbled attribute with the message it sits in', () => {
    const b = Buffer.from(CAPTURED.linkDumpCapB[0]!);
    b.writeUInt16LE(0xfff0, 16 + 16); // the first attribute of the first link
    const r = parseDatagram(b);
    expect(r.messages).toEqual([]);
    expect(r.error?.message).toMatch(/^RTM_NEWLINK seq 1795580854 at byte 0: ifinfomsg: attribute type 3/);
  });
});
