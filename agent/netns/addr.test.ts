// Privileged: addresses on a veth in a fresh namespace, checked with `ip -j addr`.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isExists, isNotFound } from '../netlink/index.js';
import type { NetnsHandle } from './netns-handle.js';
import { NetnsFixture, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

interface IpAddr { ifindex: number; addr_info: Array<{ family: string; local: string; prefixlen: number }> }

async function withVeth(): Promise<{ ns: string; handle: NetnsHandle; index: number }> {
  const { name: ns, handle } = await fx.create('a');
  await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
  await Promise.all([handle.linkSet('lo', { up: true }), handle.linkSet(fx.link('x'), { up: true }), handle.linkSet(fx.link('y'), { up: true })]);
  return { ns, handle, index: (await handle.linkGet(fx.link('x')))!.index };
}

describe('addresses', () => {
  it('adds IPv4 addresses and lists them alongside IPv6 ones', async () => {
    const { ns, handle, index } = await withVeth();
    await Promise.all([handle.addrAdd(index, '10.7.0.2', 24), handle.addrAdd(index, '10.8.0.2', 16)]);
    const fromIp = ipJson<IpAddr[]>(ns, 'addr', 'show', 'dev', fx.link('x'))[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => [a.local, a.prefixlen]);
    expect(fromIp).toEqual([['10.7.0.2', 24], ['10.8.0.2', 16]]);

    const all = await handle.addrList();
    expect(all).toContainEqual({ ifindex: 1, ip: '::1', prefixLength: 128, family: 6, scope: 254, label: undefined });
    expect(all).toContainEqual({ ifindex: 1, ip: '127.0.0.1', prefixLength: 8, family: 4, scope: 254, label: 'lo' });
    const mine = await handle.addrList(index);
    expect(mine.filter((a) => a.family === 4).map((a) => [a.ip, a.prefixLength, a.label])).toEqual([['10.7.0.2', 24, fx.link('x')], ['10.8.0.2', 16, fx.link('x')]]);
    expect(mine.every((a) => a.ifindex === index)).toBe(true);
  });

  it('reports a duplicate as EEXIST with the kernel\'s extack text, and a missing one as not found', async () => {
    const { handle, index } = await withVeth();
    await handle.addrAdd(index, '10.7.0.2', 24);
    const dup = await handle.addrAdd(index, '10.7.0.2', 24).catch((e: unknown) => e);
    expect(isExists(dup)).toBe(true);
    expect(dup).toMatchObject({ code: 'EEXIST', extack: 'ipv4: Address already assigned', requestType: 'RTM_NEWADDR', object: `10.7.0.2/24 on ifindex ${index}` });

    const missing = await handle.addrDelete(index, '10.9.9.9', 24).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect(missing).toMatchObject({ code: 'EADDRNOTAVAIL', extack: 'ipv4: Address not found' });

    await handle.addrDelete(index, '10.7.0.2', 24);
    expect((await handle.addrList(index)).filter((a) => a.family === 4)).toEqual([]);
  });
});
