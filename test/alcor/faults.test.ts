// Fault injection over real HTTP: added latency, error statuses with Alcor's error JSON and
// dropped connections, before processing (nothing changes) and after it (the work is done but
// the client does not know), with first-N, every-Kth and seeded-probability limits, and the
// standalone server's control endpoint.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorServer, type PortEntity, startAlcorServer } from './index.js';
import { type TestNetwork, clientFor, createNetwork, http } from './test-http.js';

const P = 'p1';
let alcor: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;
let net: TestNetwork;

beforeAll(async () => {
  alcor = await startAlcorServer({ seed: 11, control: true });
  api = clientFor(alcor.urls);
});
afterAll(async () => {
  await alcor.close();
});
beforeEach(async () => {
  alcor.reset();
  net = await createNetwork(api, P, '10.1.0.0/24');
});

const createPort = () => api.post('port', `/project/${P}/ports`, { port: { network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] } });
const userPorts = () => alcor.state().ports.filter((p: PortEntity) => p.device_owner !== 'network:router_interface');

describe('actions', () => {
  it('latency before processing delays the answer by at least the rule\'s time, only for matching calls', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/{p}/ports', action: { kind: 'latency', ms: 150 } });
    const t0 = performance.now();
    expect((await createPort()).status).toBe(201);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(149);
    const slow = alcor.calls.last({ method: 'POST', path: `/project/${P}/ports` })!;
    expect(slow.faults).toEqual([{ ruleId: 'fault-1', kind: 'latency', phase: 'before' }]);
    expect(slow.finishedAt - slow.startedAt).toBeGreaterThanOrEqual(149);
    await api.get('port', `/project/${P}/ports`);
    expect(alcor.calls.last({ method: 'GET' })!.faults).toEqual([]);
  });

  it('an injected 503 before processing answers Spring\'s error JSON and changes nothing', async () => {
    const rule = alcor.faults.add({ service: 'port', method: 'POST', action: { kind: 'status', status: 503 } });
    const before = alcor.state();
    const r = await createPort();
    expect(r.status).toBe(503);
    expect(r.json).toEqual({
      timestamp: expect.stringMatching(/\+0000$/), status: 503, error: 'Service Unavailable',
      message: `injected by fault rule ${rule.id}`, path: `/project/${P}/ports`,
    });
    expect(alcor.state()).toEqual(before);
    alcor.faults.add({ id: 'custom', path: '/project/*/vpcs', action: { kind: 'status', status: 500, message: 'VpcEntity exception' } });
    expect((await api.post('vpc', `/project/${P}/vpcs`, { network: {} })).json).toMatchObject({ status: 500, message: 'VpcEntity exception' });
    expect(alcor.faults.remove(rule.id)).toBe(true);
    expect((await createPort()).status).toBe(201);
  });

  it('a dropped connection is a socket error for the client; before processing it changes nothing', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'drop' } });
    const before = alcor.state();
    await expect(createPort()).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(alcor.state()).toEqual(before);
    const call = alcor.calls.last({ method: 'POST', path: `/project/${P}/ports` })!;
    expect([call.dropped, call.status, call.responseBody]).toEqual([true, undefined, undefined]);
    expect(call.requestBody).toMatchObject({ port: { network_id: net.vpc } });
  });

  it('a 500 after processing: the port exists though the client saw an error, so a blind retry makes a second one', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', phase: 'after', action: { kind: 'status', status: 500 }, limit: { kind: 'first', n: 1 } });
    expect((await createPort()).status).toBe(500);
    expect(userPorts().map((p) => p.fixed_ips![0]!.ip_address)).toEqual(['10.1.0.2']);
    expect((await createPort()).status).toBe(201);
    expect(userPorts().map((p) => p.fixed_ips![0]!.ip_address)).toEqual(['10.1.0.2', '10.1.0.3']);
    expect(alcor.calls.filter({ method: 'POST', path: `/project/${P}/ports` })[0]!.faults).toEqual([{ ruleId: 'fault-1', kind: 'status', phase: 'after' }]);
  });

  it('a dropped connection after processing: the bind happened (ACTIVE on GET) though the client saw a reset', async () => {
    await api.post('node', '/nodes/bulk', { host_infos: [{ node_id: 'n', node_name: 'vhost-0', local_ip: '10.250.0.1' }] });
    const id = ((await createPort()).json as { port: PortEntity }).port.id!;
    alcor.faults.add({ method: 'PUT', path: '/project/*/ports/*', phase: 'after', action: { kind: 'drop' } });
    await expect(api.put('port', `/project/${P}/ports/${id}`, { port: { 'binding:host_id': 'vhost-0' } })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(alcor.state().ports.find((p) => p.id === id)).toMatchObject({ 'binding:host_id': 'vhost-0', status: 'ACTIVE' });
  });

  it('latency before and after add up; a terminal fault of each phase takes effect once', async () => {
    alcor.faults.add({ path: '/project/*/ports', action: { kind: 'latency', ms: 40 } });
    alcor.faults.add({ path: '/project/*/ports', phase: 'after', action: { kind: 'latency', ms: 40 } });
    alcor.faults.add({ id: 'a', path: '/project/*/ports', phase: 'after', action: { kind: 'status', status: 502 } });
    alcor.faults.add({ id: 'b', path: '/project/*/ports', phase: 'after', action: { kind: 'status', status: 504 } });
    const t0 = performance.now();
    expect((await createPort()).status).toBe(502);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(79);
    expect(alcor.faults.list().map((f) => [f.id, f.matched, f.fired])).toEqual([['fault-1', 1, 1], ['fault-2', 1, 1], ['a', 1, 1], ['b', 1, 0]]);
    expect(userPorts()).toHaveLength(1);
  });
});

describe('limits', () => {
  const statuses = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await createPort()).status);
    return out;
  };

  it('first N matching calls', async () => {
    alcor.faults.add({ path: '/project/*/ports', action: { kind: 'status', status: 503 }, limit: { kind: 'first', n: 2 } });
    expect(await statuses(4)).toEqual([503, 503, 201, 201]);
    expect(alcor.faults.list()[0]).toMatchObject({ matched: 4, fired: 2 });
  });

  it('every Kth matching call', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 500 }, limit: { kind: 'every', k: 3 } });
    await api.get('port', `/project/${P}/ports`); // not matched: not counted
    expect(await statuses(6)).toEqual([201, 201, 500, 201, 201, 500]);
  });

  it('a seeded probability gives the same faults for the same seed; p=0 never, p=1 always', async () => {
    const run = async (seed: number) => {
      alcor.reset();
      net = await createNetwork(api, P, '10.1.0.0/24');
      alcor.faults.add({ path: '/project/*/ports', action: { kind: 'status', status: 503 }, limit: { kind: 'probability', p: 0.5, seed } });
      return statuses(30);
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a)).toEqual(new Set([201, 503]));
    alcor.faults.clear();
    alcor.faults.add({ path: '/project/*/ports', action: { kind: 'status', status: 503 }, limit: { kind: 'probability', p: 0, seed: 9 } });
    alcor.faults.add({ path: '/project/*/vpcs', action: { kind: 'status', status: 503 }, limit: { kind: 'probability', p: 1, seed: 9 } });
    expect(await statuses(5)).toEqual([201, 201, 201, 201, 201]);
    expect((await api.post('vpc', `/project/${P}/vpcs`, { network: {} })).status).toBe(503);
  });

  it('matches by service, and refuses a bad rule naming the field', () => {
    expect(() => alcor.faults.add({ action: { kind: 'status', status: 200 } })).toThrow(/^action\.status: /);
    expect(() => alcor.faults.add({ action: { kind: 'drop' }, limit: { kind: 'first', n: 0 } })).toThrow(/^limit\.n: /);
    expect(() => alcor.faults.add({ service: 'dpm' as never, action: { kind: 'drop' } })).toThrow(/^service: /);
    expect(() => alcor.faults.add({ action: { kind: 'latency', ms: -1 } })).toThrow(/^action\.ms: /);
    expect(alcor.faults.list()).toEqual([]);
  });

  it('a service filter leaves the other services alone', async () => {
    alcor.faults.add({ service: 'subnet', path: '**', action: { kind: 'status', status: 503 } });
    expect((await api.get('subnet', `/project/${P}/subnets/${net.subnet}`)).status).toBe(503);
    expect((await api.get('vpc', `/project/${P}/vpcs/${net.vpc}`)).status).toBe(200);
    expect((await createPort()).status).toBe(201);
  });
});

describe('control endpoint (/_merak/)', () => {
  const control = (method: string, path: string, body?: unknown) => http(method, `${alcor.urls.port}/_merak${path}`, body === undefined ? {} : { body });

  it('adds, lists and removes fault rules, serves state and calls, and resets; none of it is logged as an Alcor call', async () => {
    const added = await control('POST', '/faults', { method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 503 }, limit: { kind: 'first', n: 1 } });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ id: 'fault-1', phase: 'before', matched: 0, fired: 0 });
    expect((await createPort()).status).toBe(503);
    expect((await createPort()).status).toBe(201);
    expect((await control('GET', '/faults')).json).toEqual([expect.objectContaining({ id: 'fault-1', matched: 2, fired: 1 })]);
    const bad = await control('POST', '/faults', { action: { kind: 'wait' } });
    expect([bad.status, bad.json]).toEqual([400, { error: "action.kind: 'wait' is not latency, status or drop" }]);
    expect((await control('DELETE', '/faults/fault-1')).status).toBe(200);
    expect((await control('DELETE', '/faults/fault-1')).status).toBe(404);

    const state = (await control('GET', '/state')).json as { ports: PortEntity[]; subnets: unknown[] };
    expect(state.ports.filter((p) => p.device_owner !== 'network:router_interface')).toHaveLength(1);
    const seqs = ((await control('GET', '/calls')).json as Array<{ seq: number; path: string }>);
    expect(seqs.every((c) => !c.path.startsWith('/_merak'))).toBe(true);
    const last = seqs.at(-1)!.seq;
    await createPort();
    expect(((await control('GET', `/calls?since=${last}`)).json as unknown[])).toHaveLength(1);
    expect((await control('POST', '/reset')).status).toBe(200);
    expect(alcor.state().vpcs).toEqual([]);
    expect(alcor.calls.length).toBe(0);
  });

  it('is not served unless asked for: then /_merak/ is an ordinary unknown path', async () => {
    const plain = await startAlcorServer();
    try {
      const r = await http('GET', `${plain.urls.vpc}/_merak/state`);
      expect([r.status, (r.json as { message: string }).message]).toEqual([404, 'No message available']);
    } finally {
      await plain.close();
    }
  });
});
