// A VM in Alcor mode is ready once its port's GoalState is applied on its host: the hollow
// executor against a minimal port manager (POST, PUT, DELETE of one port) and a fake GoalState
// server, so the wait, its steps and its failure are checked without a kernel.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PortProgrammed, PortProgramming } from './port-programming.js';
import { GoalStateTimeoutError } from '../goalstate/errors.js';
import { HollowExecutor } from './hollow-executor.js';
import type { VmSpec } from './spec.js';
import { StepTimer, VmFailure } from './stages.js';

const PORT_ID = 'a1b2c3d4-e5f6-4a5b-8c7d-000000000001';

/** What the port manager saw, in order ("PUT", "POST", "DELETE") with when the PUT arrived. */
const seen: string[] = [];
let putAtMs = 0;
/** How long the port manager takes to answer the PUT. */
let putDelayMs = 0;
let server: Server;
let baseUrl = '';

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function portManager(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    seen.push(req.method ?? '');
    const port = { id: PORT_ID, mac_address: 'AA:BB:CC:00:00:01', fixed_ips: [{ ip_address: '10.1.0.5', subnet_id: 'subnet-1' }] };
    if (req.method === 'POST') return answer(res, 201, { port });
    if (req.method === 'PUT') {
      putAtMs = Date.now();
      return void setTimeout(() => answer(res, 200, { port }), putDelayMs);
    }
    if (req.method === 'DELETE') return answer(res, 200, {});
    return answer(res, 404, {});
  });
}

beforeAll(async () => {
  server = createServer(portManager);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  putAtMs = 0;
  putDelayMs = 0;
});

function spec(awaitGoalState: boolean): VmSpec {
  return {
    id: 'vm-1', name: 'vm-1', ip: '', prefixLength: 16, gateway: '10.1.0.1', mac: '', mtu: 1500, portKind: 'internal',
    portName: `tap${PORT_ID.slice(0, 11)}`, ifaceId: undefined, externalIds: {}, vni: 0, routes: [], ovn: undefined,
    alcor: {
      portUrl: baseUrl, projectId: 'proj', tenantId: 'tenant', networkId: 'vpc-1', subnetId: 'subnet-1', securityGroupIds: [],
      portId: PORT_ID, hostId: 'vhost-0', timeoutMs: 1500, retries: 0, awaitGoalState,
    },
  };
}

/** A GoalState server that applies the port `applyAfterMs` after the bind was sent (received 5 ms earlier), or never. */
class FakeProgramming implements PortProgramming {
  readonly asked: Array<{ portId: string; sinceMs: number; timeoutMs: number }> = [];
  constructor(private readonly applyAfterMs: number | 'never') {}

  async programmed(portId: string, opts: { sinceMs: number; timeoutMs: number }): Promise<PortProgrammed> {
    this.asked.push({ portId, sinceMs: opts.sinceMs, timeoutMs: opts.timeoutMs });
    if (this.applyAfterMs === 'never') {
      await new Promise((r) => setTimeout(r, 20));
      throw new GoalStateTimeoutError(portId, opts.timeoutMs, 'no GoalState for it arrived');
    }
    const appliedAtMs = opts.sinceMs + this.applyAfterMs;
    await new Promise((r) => setTimeout(r, Math.max(0, appliedAtMs - Date.now())));
    return { receivedAtMs: appliedAtMs - 5, appliedAtMs };
  }
}

const stepsOf = (t: StepTimer): Map<string, number> => new Map(t.steps.map((s) => [s.step, s.micros]));

describe('Alcor bind with GoalState', () => {
  it('is ready once the port is applied here: bind is the PUT, goalstate runs from the bind sent to the port applied', async () => {
    putDelayMs = 30;
    const programming = new FakeProgramming(120);
    const timer = new StepTimer();
    const before = Date.now();
    const out = await new HollowExecutor({ goalState: programming }).create(spec(true), timer);
    expect(out).toMatchObject({ alreadyPresent: false, ip: '10.1.0.5', mac: 'aa:bb:cc:00:00:01' });
    expect(Date.now() - before).toBeGreaterThanOrEqual(120);
    // Asked for this port, since the moment the bind was sent (before Alcor saw it), with the VM's Alcor timeout.
    expect(programming.asked).toHaveLength(1);
    expect(programming.asked[0]).toMatchObject({ portId: PORT_ID, timeoutMs: 1500 });
    expect(programming.asked[0]!.sinceMs).toBeGreaterThanOrEqual(before);
    expect(programming.asked[0]!.sinceMs).toBeLessThanOrEqual(putAtMs);
    const steps = stepsOf(timer);
    expect([...steps.keys()]).toEqual(['allocate', 'bind', 'goalstate', 'goalstate-apply', 'hollow']);
    // The PUT (held 30 ms by the server): a floor only, a loaded machine may take longer.
    expect(steps.get('bind')!).toBeGreaterThanOrEqual(30_000);
    expect(steps.get('goalstate')).toBe(120_000);
    expect(steps.get('goalstate-apply')).toBe(5_000);
    expect(seen).toEqual(['POST', 'PUT']);
  });

  it('fails the VM at goalstate when no GoalState comes, and releases its port in Alcor', async () => {
    const executor = new HollowExecutor({ goalState: new FakeProgramming('never') });
    const timer = new StepTimer();
    const failure = await executor.create(spec(true), timer).then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(VmFailure);
    const f = failure as VmFailure;
    expect(f.step).toBe('goalstate');
    expect(f.code).toBe('ALCOR');
    expect(f.message).toMatch(new RegExp(`^goalstate: port ${PORT_ID}: no GoalState applied on this host within 1500 ms`));
    expect(f.undoErrors).toEqual([]);
    // Rolled back: the port Alcor allocated is deleted, and the agent holds no VM.
    expect(seen).toEqual(['POST', 'PUT', 'DELETE']);
    expect(await executor.list()).toEqual([]);
    expect([...stepsOf(timer).keys()]).toEqual(['allocate', 'bind', 'goalstate', 'undo:allocate']);
  });

  it('does not wait when the coordinator did not ask for it, or when the agent serves no GoalState', async () => {
    const programming = new FakeProgramming('never');
    const notAsked = new StepTimer();
    await new HollowExecutor({ goalState: programming }).create(spec(false), notAsked);
    expect(programming.asked).toEqual([]);
    const noServer = new StepTimer();
    await new HollowExecutor().create(spec(true), noServer);
    for (const t of [notAsked, noServer]) expect([...stepsOf(t).keys()]).toEqual(['allocate', 'bind', 'hollow']);
  });
});
