// A port create that times out on the agent but lands late in Alcor (the server's delay fault):
// the agent must not create the port a second time while the first is still on its way, since
// Alcor's create with an existing id replaces the port and its addresses; when the late create
// comes after all, the bind sees that Alcor no longer holds the allocated addresses and says so.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlcorError, type AlcorCall } from '@merak/common';
import { AlcorPortReplacedError, AlcorPorts, type AlcorPortSettings } from '../../agent/vm/alcor-ports.js';
import { type AlcorServer, type PortEntity, startAlcorServer } from '../alcor/index.js';
import { SUBNET_GATEWAY, portNetwork } from './port-network.js';

let alcor: AlcorServer;
let base: Omit<AlcorPortSettings, 'portId'>;

beforeAll(async () => {
  alcor = await startAlcorServer({ mode: 'single', seed: 11 });
});
afterAll(async () => alcor?.close());

beforeEach(async () => {
  alcor.reset();
  base = await portNetwork(alcor, { projectId: 'proj-late', timeoutMs: 1000 });
});

function client(): { ports: AlcorPorts; calls: AlcorCall[]; id: string } {
  const calls: AlcorCall[] = [];
  const id = randomUUID();
  return { ports: new AlcorPorts({ ...base, portId: id }, (c) => calls.push(c)), calls, id };
}

const portsWith = (id: string): PortEntity[] => alcor.state().ports.filter((p) => p.id === id);
const addressesInUse = (): string[] => (alcor.state().allocatedIps[base.subnetId] ?? []).filter((ip) => ip !== SUBNET_GATEWAY);

describe('a port create that lands after the agent gave up on it', () => {
  it('is waited for and adopted: one create in Alcor, the addresses the agent holds are the port\'s, no address left over', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'latency', ms: 1500 }, limit: { kind: 'first', n: 1 } });
    const { ports, calls, id } = client();
    const port = await ports.allocate('vm-1', false);
    expect(alcor.calls.filter({ method: 'POST' })).toHaveLength(1);
    const held = portsWith(id);
    expect(held).toHaveLength(1);
    expect([held[0]!.fixed_ips![0]!.ip_address, held[0]!.mac_address]).toEqual([port.ip, port.mac]);
    expect(addressesInUse()).toEqual([port.ip]);
    // The timed-out POST is reported; nothing was sent twice.
    expect(calls.filter((c) => c.endpoint.startsWith('POST')).map((c) => [c.status, c.error])).toEqual([[0, 'no answer within 1000 ms']]);
    await ports.bind('vm-1', port);
    expect(portsWith(id)).toHaveLength(1);
  });

  it('when it lands even later than that, after the retried create, the bind refuses the replaced port instead of going on with stale addresses', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'latency', ms: 3500 }, limit: { kind: 'first', n: 1 } });
    const { ports, id } = client();
    const port = await ports.allocate('vm-1', false);
    // Both creates reach Alcor; the late one replaces the port with new addresses.
    await alcor.calls.waitFor({ method: 'POST' }, 2, 10_000);
    expect(portsWith(id)[0]!.fixed_ips![0]!.ip_address).not.toBe(port.ip);
    const err = await ports.bind('vm-1', port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlcorPortReplacedError);
    expect(err).toMatchObject({ portId: id, allocated: port, now: { ip: portsWith(id)[0]!.fixed_ips![0]!.ip_address } });
    expect(await ports.release()).toBe('deleted');
  });

  it('is not retried when Alcor refuses it (4xx): the error carries the status and body, one POST only', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 400, message: 'bad fixed ip (injected)' } });
    const { ports } = client();
    const err = await ports.allocate('vm-1', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlcorError);
    expect(err).toMatchObject({ status: 400, body: expect.stringContaining('bad fixed ip (injected)') });
    expect(alcor.calls.filter({ method: 'POST' })).toHaveLength(1);
  });
});
