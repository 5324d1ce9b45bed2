// Privileged: permanent neighbours in a fresh namespace, checked with `ip -j neigh`.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isExists } from '../netlink/index.js';
import { NetnsFixture, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

describe('neighbours', () => {
  it('adds permanent entries and lists them', async () => {
    const { name: ns, handle } = await fx.create('a');
    await handle.linkAddVeth({ name: fx.link('x'), peerName: fx.link('y') });
    const index = (await handle.linkGet(fx.link('x')))!.index;
    await Promise.all([handle.neighAdd(index, '10.9.0.7', '02:00:00:00:09:07'), handle.neighAdd(index, '10.9.0.8', '02:00:00:00:09:08')]);
    const fromIp = ipJson<Array<{ dst: string; lladdr: string; state: string[] }>>(ns, 'neigh', 'show', 'dev', fx.link('x'));
    // The neighbour table is a hash: no order to rely on.
    expect(fromIp.map((n) => [n.dst, n.lladdr, n.state]).sort()).toEqual([['10.9.0.7', '02:00:00:00:09:07', ['PERMANENT']], ['10.9.0.8', '02:00:00:00:09:08', ['PERMANENT']]]);
    const listed = (await handle.neighList()).filter((n) => n.ifindex === index);
    expect(listed.map((n) => [n.ip, n.mac, n.permanent]).sort()).toEqual([['10.9.0.7', '02:00:00:00:09:07', true], ['10.9.0.8', '02:00:00:00:09:08', true]]);
    expect(isExists(await handle.neighAdd(index, '10.9.0.7', '02:00:00:00:09:07').catch((e: unknown) => e))).toBe(true);
  });
});
