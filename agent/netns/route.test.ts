// Privileged: routes in a fresh namespace, checked with `ip -j route`.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RTPROT, RT_SCOPE, isExists } from '../netlink/index.js';
import { NetnsFixture, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

interface IpRoute { dst: string; gateway?: string; dev: string; protocol?: string; scope?: string }

describe('routes', () => {
  it('adds a default route, a gateway route and an on-link route, and lists the main table', async () => {
    const { name: ns, handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const index = (await handle.linkGet(fx.link('x')))!.index;
    await Promise.all([handle.linkSet(fx.link('x'), { up: true }), handle.linkSet(fx.link('y'), { up: true }), handle.addrAdd(index, '10.9.0.2', 24)]);
    await Promise.all([
      handle.routeAddDefault('10.9.0.1', index),
      handle.routeAdd({ dst: '10.20.0.0', prefixLength: 16, gateway: '10.9.0.1' }),
      handle.routeAdd({ dst: '10.30.0.0', prefixLength: 16, ifindex: index }),
    ]);
    expect(ipJson<IpRoute[]>(ns, 'route', 'show').map((r) => [r.dst, r.gateway, r.dev, r.scope])).toEqual([
      ['default', '10.9.0.1', fx.link('x'), undefined],
      ['10.9.0.0/24', undefined, fx.link('x'), 'link'],
      ['10.20.0.0/16', '10.9.0.1', fx.link('x'), undefined],
      ['10.30.0.0/16', undefined, fx.link('x'), 'link'],
    ]);
    const routes = await handle.routeList();
    expect(routes.map((r) => [r.dst, r.prefixLength, r.gateway, r.ifindex, r.protocol, r.scope])).toEqual([
      [undefined, 0, '10.9.0.1', index, RTPROT.BOOT, RT_SCOPE.UNIVERSE],
      ['10.9.0.0', 24, undefined, index, RTPROT.KERNEL, RT_SCOPE.LINK],
      ['10.20.0.0', 16, '10.9.0.1', index, RTPROT.BOOT, RT_SCOPE.UNIVERSE],
      ['10.30.0.0', 16, undefined, index, RTPROT.BOOT, RT_SCOPE.LINK],
    ]);
  });

  it('reports a duplicate default route as EEXIST and an unreachable gateway with the kernel\'s reason', async () => {
    const { handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const index = (await handle.linkGet(fx.link('x')))!.index;
    await Promise.all([handle.linkSet(fx.link('x'), { up: true }), handle.addrAdd(index, '10.9.0.2', 24)]);
    await handle.routeAddDefault('10.9.0.1');
    expect(isExists(await handle.routeAddDefault('10.9.0.1').catch((e: unknown) => e))).toBe(true);
    const far = await handle.routeAdd({ dst: '10.40.0.0', prefixLength: 16, gateway: '192.0.2.1' }).catch((e: unknown) => e);
    expect(far).toMatchObject({ code: 'ENETUNREACH', requestType: 'RTM_NEWROUTE', object: '10.40.0.0/16' });
    expect((far as Error).message).toMatch(/Nexthop has invalid gateway/);
  });
});
