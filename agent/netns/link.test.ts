// Privileged: real namespaces and veths, checked with `ip -j`. Fails (never skips) without root.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IN6_ADDR_GEN_MODE, NLM_F, NetlinkError, RTM, isExists, isNotFound } from '../netlink/index.js';
import { NetnsFixture, eventually, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  ifalias?: string;
  link_netnsid?: number;
  inet6_addr_gen_mode?: string;
  linkinfo?: { info_kind: string };
}
const ipLink = (ns: string, dev: string) => ipJson<IpLink[]>(ns, '-d', 'link', 'show', 'dev', dev)[0]!;

describe('links', () => {
  it('creates a veth whose peer is born in another namespace, with its mac, mtu, ifindex and an alias', async () => {
    const { name: a, handle } = await fx.create('a');
    const { name: b, handle: inB } = await fx.create('b');
    const [outer, inner] = [fx.link('o'), fx.link('i')];
    await handle.linkAddVeth({
      name: outer, peerName: inner, peerNetnsFd: fx.fd(b), index: 100, peerIndex: 42, mtu: 1400, mac: '02:00:00:00:01:01', peerMac: '02:00:00:00:01:02',
      alias: 'merak vm=1',
    });
    const o = ipLink(a, outer);
    expect(o).toMatchObject({ mtu: 1400, address: '02:00:00:00:01:01', ifalias: 'merak vm=1', linkinfo: { info_kind: 'veth' } });
    expect(o.link_netnsid).toBeTypeOf('number');
    expect(ipLink(b, inner)).toMatchObject({ ifindex: 42, mtu: 1400, address: '02:00:00:00:01:02' });
    expect(ipJson<IpLink[]>(a, 'link', 'show').map((l) => l.ifname)).not.toContain(inner);

    const seen = await handle.linkGet(outer);
    expect(seen).toMatchObject({ name: outer, kind: 'veth', parentIndex: 42, mtu: 1400, mac: '02:00:00:00:01:01', alias: 'merak vm=1', up: false });
    expect(seen!.linkNetnsId).toBe(o.link_netnsid);
    expect(await inB.linkGet(42)).toMatchObject({ name: inner, index: 42, kind: 'veth' });
  });

  it('kernel: a veth peer\'s ifindex is ignored unless the link\'s own is set; a fresh namespace numbers it 2', async () => {
    const { handle } = await fx.create('a');
    const { name: b } = await fx.create('b');
    await handle.netlink.request({
      type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL,
      body: { kind: 'link', attrs: { ifname: fx.link('x'), linkInfo: { kind: 'veth', peer: { family: 0, deviceType: 0, index: 42, flags: 0, change: 0, attrs: { netnsFd: fx.fd(b), ifname: 'eth0' } } } } },
    }, { expect: 'ack' });
    expect(ipLink(b, 'eth0').ifindex).toBe(2);
    const e = await handle.linkAddVeth({ name: fx.link('y'), peerName: 'eth1', peerNetnsFd: fx.fd(b), peerIndex: 42 }).catch((err: unknown) => err);
    expect(e).toMatchObject({ field: 'peerIndex' });
  });

  it('sets mac, mtu, up, alias and addrgenmode none in one request: no IPv6 link-local appears on it', async () => {
    const { name: a, handle } = await fx.create('a');
    const [x, y] = [fx.link('x'), fx.link('y')];
    await handle.linkAddVeth({ name: x, peerName: y });
    await Promise.all([
      handle.linkSet(x, { mac: '02:00:00:00:02:01', mtu: 1450, up: true, alias: 'outer', addrGenModeNone: true }),
      handle.linkSet(y, { up: true }),
    ]);
    expect(ipLink(a, x)).toMatchObject({ mtu: 1450, address: '02:00:00:00:02:01', ifalias: 'outer', inet6_addr_gen_mode: 'none' });
    expect(ipLink(a, x).flags).toContain('UP');
    expect(await handle.linkGet(x)).toMatchObject({ up: true, addrGenMode: IN6_ADDR_GEN_MODE.NONE, operstate: 'up' });
    // The peer (default mode) gets its fe80:: address; ours never does.
    const linkLocal = (dev: string) => ipJson<Array<{ addr_info: Array<{ family: string }> }>>(a, 'addr', 'show', 'dev', dev)[0]!.addr_info.some((i) => i.family === 'inet6');
    expect(await eventually(() => linkLocal(y))).toBe(true);
    expect(linkLocal(x)).toBe(false);

    await handle.linkSet(x, { up: false });
    expect(ipLink(a, x).flags).not.toContain('UP');
  });

  it('kernel: IFLA_AF_SPEC addrgenmode is refused at creation (EAFNOSUPPORT), so it is a separate set', async () => {
    const { handle } = await fx.create('a');
    const e = await handle.netlink.request({
      type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL,
      body: { kind: 'link', attrs: { addrGenMode: IN6_ADDR_GEN_MODE.NONE, ifname: fx.link('x'), linkInfo: { kind: 'veth', peer: { family: 0, deviceType: 0, index: 0, flags: 0, change: 0, attrs: { ifname: fx.link('y') } } } } },
    }, { expect: 'ack' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).code).toBe('EAFNOSUPPORT');
    expect(await handle.linkGet(fx.link('x'))).toBeUndefined();
  });

  it('kernel: IFLA_IFALIAS is ignored at creation, which is why linkAddVeth sets it afterwards', async () => {
    const { name: a, handle } = await fx.create('a');
    await handle.netlink.request({
      type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL,
      body: { kind: 'link', attrs: { alias: 'lost', ifname: fx.link('x'), linkInfo: { kind: 'veth', peer: { family: 0, deviceType: 0, index: 0, flags: 0, change: 0, attrs: { ifname: fx.link('y') } } } } },
    }, { expect: 'ack' });
    expect(ipLink(a, fx.link('x')).ifalias).toBeUndefined();
  });

  it('a namespace created with default addr_gen_mode=1 gives veth peers born in it no link-local address', async () => {
    const { handle } = await fx.create('a');
    const { name: b, handle: inB } = await fx.create('b', { sysctls: [['net.ipv6.conf.default.addr_gen_mode', '1']] });
    await handle.linkAddVeth({ name: fx.link('o'), peerName: 'eth0', peerNetnsFd: fx.fd(b) });
    await Promise.all([handle.linkSet(fx.link('o'), { up: true }), inB.linkSet('eth0', { up: true })]);
    expect(ipLink(b, 'eth0').inet6_addr_gen_mode).toBe('none');
    await new Promise((r) => setTimeout(r, 300));
    expect(ipJson<Array<{ addr_info: unknown[] }>>(b, 'addr', 'show', 'dev', 'eth0')[0]!.addr_info).toEqual([]);
  });

  it('moves a link into another namespace and renames it there, in one request', async () => {
    const { handle } = await fx.create('a');
    const { name: b, handle: inB } = await fx.create('b');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    await handle.linkSet(fx.link('x'), { netnsFd: fx.fd(b), newName: 'eth0', mac: '02:00:00:00:03:01', mtu: 1300 });
    expect(await handle.linkGet(fx.link('x'))).toBeUndefined();
    expect(await inB.linkGet('eth0')).toMatchObject({ name: 'eth0', mac: '02:00:00:00:03:01', mtu: 1300, kind: 'veth' });
    expect(ipLink(b, 'eth0').link_netnsid).toBeTypeOf('number');
  });

  it('reports EEXIST, and ENODEV as not-found with the link named', async () => {
    const { handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const dup = await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('z') }).catch((e: unknown) => e);
    expect(isExists(dup)).toBe(true);
    expect(dup).toMatchObject({ code: 'EEXIST', requestType: 'RTM_NEWLINK', object: fx.link('x') });

    const missing = await handle.linkDelete(fx.link('m')).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect(missing).toMatchObject({ code: 'ENODEV', requestType: 'RTM_DELLINK', object: fx.link('m') });
    // Whatever the kernel says beyond the errno is kept (6.18 sends no extack for this one).
    expect((missing as NetlinkError).message).toContain(`RTM_DELLINK ${fx.link('m')}: ENODEV`);

    const byIndex = await handle.linkSet(999, { up: true }).catch((e: unknown) => e);
    expect(isNotFound(byIndex)).toBe(true);
    expect(await handle.linkGet(fx.link('m'))).toBeUndefined();
    expect(await handle.linkGet(999)).toBeUndefined();
  });

  it('passes the kernel\'s extack text through (MTU below the device minimum)', async () => {
    const { handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const e = (await handle.linkSet(fx.link('x'), { mtu: 10 }).catch((err: unknown) => err)) as NetlinkError;
    expect(e).toMatchObject({ code: 'EINVAL', extack: 'mtu less than device minimum' });
    expect(e.message).toBe(`RTM_NEWLINK ${fx.link('x')}: EINVAL (invalid argument): mtu less than device minimum`);
  });

  it('deletes by name and by index (the peer goes with it)', async () => {
    const { name: a, handle } = await fx.create('a');
    await Promise.all([handle.linkAddVeth({ name: fx.link('a'), peerName: fx.link('b') }), handle.linkAddVeth({ name: fx.link('c'), peerName: fx.link('d') })]);
    const c = await handle.linkGet(fx.link('c'));
    await Promise.all([handle.linkDelete(fx.link('a')), handle.linkDelete(c!.index)]);
    expect(ipJson<IpLink[]>(a, 'link', 'show').map((l) => l.ifname)).toEqual(['lo']);
  });

  it('lists many links in a dump spread over several datagrams', async () => {
    const { name: a, handle } = await fx.create('a');
    const pairs = 150;
    await Promise.all(Array.from({ length: pairs }, (_, i) => handle.linkAddVeth({ name: fx.link(`a${i.toString(36)}`), peerName: fx.link(`b${i.toString(36)}`) })));
    const before = handle.netlink.stats.datagrams;
    const links = await handle.linkList();
    expect(handle.netlink.stats.datagrams - before).toBeGreaterThan(1);
    expect(links).toHaveLength(2 * pairs + 1);
    const fromIp = ipJson<IpLink[]>(a, 'link', 'show').map((l) => [l.ifindex, l.ifname]);
    expect(links.map((l) => [l.index, l.name])).toEqual(fromIp);
    expect(links.filter((l) => l.kind === 'veth')).toHaveLength(2 * pairs);
  });
});
