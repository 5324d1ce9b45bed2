// Privileged: named namespaces, handles on them and on our own namespace.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NetlinkSocketError } from '../netlink/index.js';
import { createNamespace, deleteNamespaces, listNamespaces } from './namespace.js';
import { NetnsHandle } from './netns-handle.js';
import { NetnsFixture, ipJson, requireRoot } from './test-support/netns-fixture.js';

requireRoot();

const fx = new NetnsFixture();
afterEach(() => fx.cleanup());
afterAll(() => expect(fx.leftovers()).toEqual([]));

describe('namespaces', () => {
  it('creates, lists and deletes in a batch, reporting ENOENT per name', async () => {
    const [a, b] = [fx.namespace('a'), fx.namespace('b')];
    await Promise.all([createNamespace(a), createNamespace(b)]);
    expect(await listNamespaces()).toEqual(expect.arrayContaining([a, b]));
    expect(await deleteNamespaces([a, `${a}-missing`, b])).toEqual([null, 'ENOENT', null]);
    expect(existsSync(`/run/netns/${a}`)).toBe(false);
    expect(await listNamespaces()).not.toContain(b);
    expect(await deleteNamespaces([])).toEqual([]);
  });

  it('rejects an existing name and a name that is not a file name', async () => {
    const a = fx.namespace('a');
    await createNamespace(a);
    await expect(createNamespace(a)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(createNamespace('../etc')).rejects.toMatchObject({ field: 'name' });
  });

  it('creates a namespace with sysctls and a handle inside in one call', async () => {
    const { name, handle } = await fx.create('a', { sysctls: [['net.ipv6.conf.all.disable_ipv6', '1']] });
    expect(handle.path).toBe(`/run/netns/${name}`);
    await handle.linkSet('lo', { up: true });
    expect(ipJson<Array<{ operstate: string }>>(name, 'link', 'show', 'lo')[0]!.operstate).toBe('UNKNOWN');
    expect((await handle.addrList()).map((a) => a.ip)).toEqual(['127.0.0.1']);
  });

  it('opens a handle on an existing namespace, and on our own', async () => {
    const name = fx.namespace('a');
    await createNamespace(name);
    const inside = fx.track(await NetnsHandle.open(`/run/netns/${name}`));
    expect((await inside.linkList()).map((l) => l.name)).toEqual(['lo']);
    const own = fx.track(await NetnsHandle.open('/proc/self/ns/net'));
    expect(await own.linkGet('lo')).toMatchObject({ index: 1, name: 'lo' });
  });

  it('close() fails requests still in flight', async () => {
    const { handle } = await fx.create('a');
    const p = handle.linkList();
    handle.close();
    await expect(p).rejects.toBeInstanceOf(NetlinkSocketError);
    await expect(handle.linkGet('lo')).rejects.toMatchObject({ reason: 'closed' });
  });
});
