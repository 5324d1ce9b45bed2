// Privileged: many requests in flight on one handle, and dumps running side by side.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createKernelLane } from '@merak/native';
import { fstatSync, statSync } from 'node:fs';
import { MerakError } from '@merak/common';
import { isExists } from '../netlink/index.js';
import { NetnsFixture, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

describe('NetnsHandle', () => {
  it('has 200 requests in flight at once, each ACK (or error) matched to its request', async () => {
    const { name: ns, handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const index = (await handle.linkGet(fx.link('x')))!.index;
    const sentBefore = handle.netlink.stats.requests;
    // Every 10th request repeats the one before it, so exactly those 20 must fail with EEXIST.
    const ips = Array.from({ length: 200 }, (_, i) => (i % 10 === 9 ? i - 1 : i)).map((n) => `10.${50 + (n >> 8)}.${n & 0xff}.1`);
    const outcomes = await Promise.all(ips.map((ip) => handle.addrAdd(index, ip, 32).then(() => 'ok', (e: unknown) => (isExists(e) ? `EEXIST ${(e as { object: string }).object}` : e))));
    expect(handle.netlink.stats.requests - sentBefore).toBe(200);
    outcomes.forEach((o, i) => expect(o).toBe(i % 10 === 9 ? `EEXIST ${ips[i]}/32 on ifindex ${index}` : 'ok'));
    const inet = ipJson<Array<{ addr_info: Array<{ family: string; local: string }> }>>(ns, 'addr', 'show', 'dev', fx.link('x'))[0]!.addr_info.filter((a) => a.family === 'inet');
    expect(inet.map((a) => a.local).sort()).toEqual([...new Set(ips)].sort());
  });

  it('runs dumps one at a time underneath while callers start them together', async () => {
    const { handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const index = (await handle.linkGet(fx.link('x')))!.index;
    await Promise.all([handle.linkSet(fx.link('x'), { up: true }), handle.linkSet(fx.link('y'), { up: true }), handle.addrAdd(index, '10.9.0.2', 24)]);
    const [links, addrs, routes, neighs, links2] = await Promise.all([handle.linkList(), handle.addrList(), handle.routeList(), handle.neighList(), handle.linkList()]);
    expect(links.map((l) => l.name)).toEqual(['lo', fx.link('y'), fx.link('x')]);
    // Both dumps list the same links; operstate and flags may move on between them (carrier comes up).
    expect(links2.map((l) => [l.index, l.name, l.mac])).toEqual(links.map((l) => [l.index, l.name, l.mac]));
    expect(addrs.some((a) => a.ip === '10.9.0.2')).toBe(true);
    expect(routes.map((r) => r.dst)).toEqual(['10.9.0.0']);
    expect(Array.isArray(neighs)).toBe(true);
  });

  it('opens an ioctl socket and an fd on the namespace with devices, for tx checksum offload and veth peers', async () => {
    const { name: ns, handle } = await fx.create('d', { devices: true });
    const { handle: host } = await fx.create('h');
    expect(fstatSync(handle.fd!).ino).toBe(statSync(handle.path).ino);
    await host.linkAddVeth({ name: fx.link('o'), peerName: 'eth0', peerNetnsFd: handle.fd! });
    await handle.txChecksum('eth0', false);
    expect(/tx-checksumming: (\w+)/.exec(execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-k', 'eth0'], { encoding: 'utf8' }))?.[1]).toBe('off');
    // A handle without devices says so instead of failing in the kernel.
    expect(host.fd).toBeUndefined();
    await expect(host.txChecksum('eth0', false)).rejects.toThrow(MerakError);
    handle.close();
    handle.close();
    await expect(handle.txChecksum('eth0', false)).rejects.toThrow(/no ioctl socket/);
  });

  it('does the same through a kernel lane: namespace, netlink requests and the ioctl all queued in order', async () => {
    const lane = createKernelLane();
    const [{ name: ns, handle: vm }, { handle: host }] = await Promise.all([fx.create('l', { devices: true, lane }), fx.create('k', { lane })]);
    await host.linkAddVeth({ name: fx.link('p'), peerName: 'eth0', peerNetnsFd: vm.fd!, peerMac: '02:00:00:00:01:02' });
    // Not awaited one by one: the lane keeps them in order (the address needs eth0, the route its subnet up).
    await Promise.all([vm.linkSet('lo', { up: true }), vm.addrAdd(2, '10.77.0.2', 24), vm.linkSet(2, { up: true }), vm.routeAddDefault('10.77.0.1', 2), vm.txChecksum('eth0', false)]);
    const [eth0] = ipJson<Array<{ address: string; flags: string[]; addr_info: Array<{ local: string }> }>>(ns, 'addr', 'show', 'dev', 'eth0');
    expect(eth0!.address).toBe('02:00:00:00:01:02');
    expect(eth0!.flags).toContain('UP');
    expect(eth0!.addr_info.map((a) => a.local)).toContain('10.77.0.2');
    expect(ipJson<Array<{ dst: string; gateway: string }>>(ns, 'route', 'show', 'default')[0]).toMatchObject({ dst: 'default', gateway: '10.77.0.1' });
    expect(/tx-checksumming: (\w+)/.exec(execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-k', 'eth0'], { encoding: 'utf8' }))?.[1]).toBe('off');
    // A kernel refusal still arrives as a NetlinkError through the lane.
    await expect(vm.addrAdd(2, '10.77.0.2', 24)).rejects.toSatisfy(isExists);
  });
});
