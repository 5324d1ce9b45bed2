// What the per-namespace API sends, recorded with NetlinkBatch (no kernel, no root) and compared
// byte for byte with what `ip` sent for the same command (captured with strace on this machine,
// see ../netlink/testdata/captured.ts).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@merak/common';
import { NetlinkBatch, RTM } from '../netlink/index.js';
import { CAPTURED } from '../netlink/testdata/captured.js';
import { addrAdd } from './addr.js';
import { linkAddVeth, linkDelete, linkSet } from './link.js';
import { neighAdd } from './neigh.js';
import { routeAdd, routeAddDefault } from './route.js';

/** Records `fn`'s requests with the sequence number ip used. */
async function record(captured: Buffer, fn: (b: NetlinkBatch) => Promise<unknown>): Promise<NetlinkBatch> {
  const batch = new NetlinkBatch(captured.readUInt32LE(8), 0);
  await fn(batch);
  return batch;
}

const GOLDEN: Array<[string, Buffer, (b: NetlinkBatch) => Promise<unknown>]> = [
  ['linkAddVeth, peer in this namespace', CAPTURED.vethAdd, (b) => linkAddVeth(b, { name: 'v0', peerName: 'v1' })],
  ['linkAddVeth, peer created in another namespace with its own mac, mtu and ifindex', CAPTURED.vethAddFull, (b) =>
    linkAddVeth(b, { name: 'v4', peerName: 'v5', peerNetnsFd: 4, index: 100, peerIndex: 78, mtu: 1400, mac: '02:00:00:00:00:04', peerMac: '02:00:00:00:00:05' })],
  ['linkSet mac, mtu, up', CAPTURED.linkSetMacMtuUp, (b) => linkSet(b, 3, { mac: '02:00:00:00:00:01', mtu: 1400, up: true })],
  ['linkSet addrGenModeNone', CAPTURED.linkSetAddrGenModeNone, (b) => linkSet(b, 3, { addrGenModeNone: true })],
  ['linkSet alias', CAPTURED.linkSetAlias, (b) => linkSet(b, 3, { alias: 'hello' })],
  ['linkSet up', CAPTURED.linkSetUp, (b) => linkSet(b, 2, { up: true })],
  ['linkDelete', CAPTURED.linkDelete, (b) => linkDelete(b, 4)],
  ['addrAdd', CAPTURED.addrAdd, (b) => addrAdd(b, 3, '10.1.2.3', 24)],
  ['routeAddDefault', CAPTURED.routeAddDefault, (b) => routeAddDefault(b, '10.1.2.1')],
  ['routeAdd', CAPTURED.routeAdd, (b) => routeAdd(b, { dst: '10.9.0.0', prefixLength: 16, gateway: '10.1.2.1', ifindex: 3 })],
  ['neighAdd', CAPTURED.neighAdd, (b) => neighAdd(b, 3, '10.1.2.9', '02:00:00:00:00:09')],
];

describe('requests: same bytes as iproute2', () => {
  it.each(GOLDEN)('%s', async (_name, captured, fn) => {
    const batch = await record(captured, fn);
    expect(batch.recorded).toHaveLength(1);
    expect(batch.bytes().toString('hex')).toBe(captured.toString('hex'));
  });
});

describe('requests: shapes ip has no single command for', () => {
  it('linkAddVeth sets the alias in a second message, after the create (the kernel ignores it at creation)', async () => {
    const b = await record(CAPTURED.vethAdd, (r) => linkAddVeth(r, { name: 'v0', peerName: 'v1', alias: 'hello' }));
    expect(b.recorded.map((r) => [r.requestType, r.object])).toEqual([['RTM_NEWLINK', 'v0'], ['RTM_NEWLINK', 'v0']]);
    expect(b.recorded[0]!.bytes.equals(CAPTURED.vethAdd)).toBe(true);
    expect(b.recorded[1]!.bytes.includes(Buffer.from('hello'))).toBe(true);
  });

  it('linkSet by name identifies the link with IFLA_IFNAME and index 0, in one message', async () => {
    const b = await record(CAPTURED.linkSetUp, (r) => linkSet(r, 'v1', { up: true, addrGenModeNone: true }));
    expect(b.recorded).toHaveLength(1);
    expect(b.recorded[0]!.bytes.readInt32LE(16 + 4)).toBe(0);
    expect(b.recorded[0]!.bytes.includes(Buffer.from('v1\0'))).toBe(true);
  });

  it('a VM\'s configuration is four pipelined requests in one buffer', async () => {
    const b = new NetlinkBatch(1, 0);
    await Promise.all([linkSet(b, 'lo', { up: true }), addrAdd(b, 2, '10.0.0.5', 24), linkSet(b, 2, { up: true }), routeAddDefault(b, '10.0.0.1', 2)]);
    expect(b.recorded.map((r) => [r.seq, r.requestType])).toEqual([[1, 'RTM_NEWLINK'], [2, 'RTM_NEWADDR'], [3, 'RTM_NEWLINK'], [4, 'RTM_NEWROUTE']]);
    expect(b.bytes().length).toBe(40 + 40 + 32 + 44);
  });
});

describe('requests: validation names the field before anything is sent', () => {
  const cases: Array<[string, (b: NetlinkBatch) => Promise<unknown>, string, RegExp]> = [
    ['long name', (b) => linkAddVeth(b, { name: 'a-very-long-link-name', peerName: 'p' }), 'name', /link name 'a-very-long-link-name' is longer than 15 bytes/],
    ['bad peer name', (b) => linkAddVeth(b, { name: 'a', peerName: 'x/y' }), 'peerName', /not valid/],
    ['bad peer mac', (b) => linkAddVeth(b, { name: 'a', peerName: 'b', peerMac: '02:00' }), 'peerMac', /not a MAC/],
    ['peer alias in another namespace', (b) => linkAddVeth(b, { name: 'a', peerName: 'b', peerNetnsFd: 3, peerAlias: 'x' }), 'peerAlias', /another namespace/],
    ['peer ifindex without own index', (b) => linkAddVeth(b, { name: 'a', peerName: 'b', peerIndex: 2 }), 'peerIndex', /only when index is set/],
    ['bad mtu', (b) => linkSet(b, 'a', { mtu: 0 }), 'mtu', /MTU 0/],
    ['bad ifindex', (b) => addrAdd(b, 0, '10.0.0.1', 24), 'ifindex', /ifindex 0/],
    ['bad ip', (b) => addrAdd(b, 2, '10.0.0.300', 24), 'ip', /'10.0.0.300'/],
    ['bad prefix', (b) => addrAdd(b, 2, '10.0.0.1', 33), 'prefixLength', /0..32/],
    ['route without gateway or dev', (b) => routeAdd(b, { dst: '10.0.0.0', prefixLength: 8 }), 'gateway', /gateway or an ifindex/],
    ['mixed families', (b) => routeAdd(b, { dst: '10.0.0.0', prefixLength: 8, gateway: 'fe80::1' }), 'gateway', /same family/],
  ];
  it.each(cases)('%s', async (_name, fn, field, message) => {
    const b = new NetlinkBatch();
    const e = await fn(b).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as InvalidArgumentError).field).toBe(field);
    expect((e as Error).message).toMatch(message);
    expect(b.recorded).toEqual([]);
  });

  it('dumps are recorded as dumps', async () => {
    const b = new NetlinkBatch();
    await b.request({ type: RTM.GETLINK, body: { kind: 'link' } }, { expect: 'dump' });
    expect(b.recorded[0]!.bytes.readUInt16LE(6)).toBe(0x301);
  });
});
