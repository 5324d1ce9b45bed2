// The agent's GoalState server as Alcor's NCM sees it, over real gRPC, with the hollow data plane
// (no OVS): the stream semantics (warm-up calls that never half-close, one reply per call, further
// messages ignored), a status per resource the way Alcor's agent reports them, malformed states
// failing alone, deletes undoing creates, PENDING ports programmed by the background retry, and
// the VM create path's wait for its port.
import { alcor } from '@merak/proto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { GoalStateNeighbor, GoalStateNeighborKey } from '../../agent/goalstate/contracts.js';
import { GoalStateTimeoutError } from '../../agent/goalstate/errors.js';
import { HollowGoalStateDataPlane } from '../../agent/goalstate/hollow-data-plane.js';
import { GoalStateHostAgent } from '../../agent/goalstate/host-agent.js';
import { type GoalStateServer, startGoalStateServer } from '../../agent/goalstate/server.js';
import { NcmLikeClient } from './client.js';
import { dhcpState, emptyV2, neighborState, portState, routerState, securityGroupState, statusesOf, subnetState, vpcState } from './messages.js';

const { OperationType: Op } = alcor;
const logger = pino({ level: 'silent' });
const OWN_IP = '192.0.2.1';
const PEER_IP = '192.0.2.2';
const VPC = 'vpc-0000-1111';
const SUBNET = 'subnet-0000-2222';
const PORT_A = 'aaaaaaaa-1111-2222-3333-444444444444';
const PORT_B = 'bbbbbbbb-1111-2222-3333-444444444444';

/** The hollow data plane, but a tap exists only once a test says so (PENDING until then). */
class TapsDataPlane extends HollowGoalStateDataPlane {
  readonly taps = new Set<string>();
  readonly attached = new Map<string, number>();
  neighborCalls: Array<{ upsert: readonly GoalStateNeighbor[]; remove: readonly GoalStateNeighborKey[] }> = [];
  override async attachPort(tap: string, vni: number): Promise<'attached'> {
    if (!this.taps.has(tap)) return 'absent' as 'attached';
    this.attached.set(tap, vni);
    return 'attached';
  }
  override async detachPort(tap: string): Promise<void> {
    this.attached.delete(tap);
  }
  override async updateNeighbors(upsert: readonly GoalStateNeighbor[], remove: readonly GoalStateNeighborKey[]): Promise<void> {
    this.neighborCalls.push({ upsert, remove });
    await super.updateNeighbors(upsert, remove);
  }
}

let server: GoalStateServer | undefined;
let agent: GoalStateHostAgent | undefined;
let client: NcmLikeClient | undefined;

afterEach(async () => {
  client?.close();
  await server?.close(100);
  await agent?.close();
  server = undefined;
  agent = undefined;
  client = undefined;
});

async function start(): Promise<TapsDataPlane> {
  const dp = new TapsDataPlane(new Set([OWN_IP]));
  agent = new GoalStateHostAgent({ dataPlane: dp, logger, pendingRetry: { firstMs: 10, maxMs: 20, attempts: 200 } });
  server = await startGoalStateServer('127.0.0.1:0', agent, logger);
  client = new NcmLikeClient(server.address);
  return dp;
}

/** What Alcor's NCM sends the binding host for port A (VNI 700), with B on the peer host. */
function bindA(): alcor.GoalStateV2 {
  const m = emptyV2();
  m.hostResources[OWN_IP] = { resources: [{ type: alcor.ResourceType.PORT, id: PORT_A }] };
  m.vpcStates[VPC] = vpcState(VPC);
  m.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.1.0.0/16', vni: 700, gatewayIp: '10.1.0.1' });
  m.portStates[PORT_A] = portState({ id: PORT_A, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.5', mac: 'fa:16:3e:00:00:0a' });
  m.dhcpStates['d-1'] = dhcpState('d-1', SUBNET, 'fa:16:3e:00:00:0a', '10.1.0.5');
  m.securityGroupStates['sg-1'] = securityGroupState('sg-1');
  m.routerStates['r-1'] = routerState('r-1', [SUBNET]);
  m.neighborStates[`L2/${PORT_A}`] = neighborState({ id: PORT_A, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.5', mac: 'fa:16:3e:00:00:0a', hostIp: OWN_IP });
  m.neighborStates[`L2/${PORT_B}`] = neighborState({ id: PORT_B, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.6', mac: 'fa:16:3e:00:00:0b', hostIp: PEER_IP, hostMac: '02:00:00:00:00:02' });
  return m;
}

describe('GoalState server: stream semantics', () => {
  it('answers a warm-up call (empty message, never half-closed) with one reply without statuses and ends it OK', async () => {
    await start();
    const { replies, code } = await client!.push(emptyV2(), { halfClose: false });
    expect(code).toBe(status.OK);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.operationStatuses).toEqual([]);
    expect(replies[0]!.formatVersion).toBe(0);
  });

  it('applies only the first message of a call and ends the call after one reply', async () => {
    const dp = await start();
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    dp.taps.add(`tap${PORT_B.slice(0, 11)}`);
    const second = bindA();
    second.portStates = { [PORT_B]: portState({ id: PORT_B, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.6', mac: 'fa:16:3e:00:00:0b' }) };
    const { replies, code } = await new Promise<{ replies: alcor.GoalStateOperationReply[]; code: number }>((resolve) => {
      const call = client!.client.pushGoalStatesStream();
      const got: alcor.GoalStateOperationReply[] = [];
      call.on('data', (r: alcor.GoalStateOperationReply) => got.push(r));
      call.on('status', (s: { code: number }) => resolve({ replies: got, code: s.code }));
      call.on('error', () => undefined);
      call.write(bindA());
      call.write(second);
    });
    expect(code).toBe(status.OK);
    expect(replies).toHaveLength(1);
    expect([...dp.attached.keys()]).toEqual([`tap${PORT_A.slice(0, 11)}`]);
  });

  it('ends a call half-closed before any message with OK and nothing applied', async () => {
    await start();
    const code = await new Promise<number>((resolve) => {
      const call = client!.client.pushGoalStatesStream();
      call.on('status', (s: { code: number }) => resolve(s.code));
      call.on('error', () => undefined);
      call.on('data', () => undefined);
      call.end();
    });
    expect(code).toBe(status.OK);
    expect(agent!.snapshot().ports).toEqual([]);
  });
});

describe('GoalState server: what a bind does and what the reply says', () => {
  it('programs the port with its subnet\'s VNI, the remote neighbor only, records DHCP/SG/router, and reports PORT, DHCP and ROUTER', async () => {
    const dp = await start();
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    const { replies } = await client!.push(bindA());
    expect(statusesOf(replies[0]!)).toEqual([
      { id: 'd-1', type: 'DHCP', op: 'CREATE', status: 'SUCCESS' },
      { id: PORT_A, type: 'PORT', op: 'CREATE', status: 'SUCCESS' },
      { id: 'r-1', type: 'ROUTER', op: 'INFO', status: 'SUCCESS' },
    ]);
    expect(replies[0]!.messageTotalOperationTime).toBeGreaterThan(0);
    expect(dp.attached).toEqual(new Map([[`tap${PORT_A.slice(0, 11)}`, 700]]));
    const snap = agent!.snapshot();
    // The neighbor on this host is local (br-int delivers to it): only the peer's is programmed.
    expect(snap.neighbors).toEqual([{ vni: 700, ip: '10.1.0.6', mac: 'fa:16:3e:00:00:0b', hostIp: PEER_IP, hostMac: '02:00:00:00:00:02' }]);
    expect(snap).toMatchObject({ dhcp: 1, routers: 1, securityGroups: 1, subnets: 1, vpcs: 1 });
  });

  it('fails each malformed state alone, with the status Alcor\'s agent gives, and applies the rest of the message', async () => {
    const dp = await start();
    for (const id of [PORT_A, PORT_B, 'cccccccc-1', 'dddddddd-1', 'eeeeeeee-1', 'ffffffff-1', '99999999-1']) dp.taps.add(`tap${id.slice(0, 11)}`);
    const m = bindA();
    const port = (id: string, c: Parameters<typeof portState>[1] = {}, op?: alcor.OperationType) =>
      portState({ id, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.9', mac: 'fa:16:3e:00:00:09', ...(op !== undefined ? { op } : {}) }, c);
    m.portStates['no-id'] = port('', { id: '' });
    m.portStates[PORT_B] = port(PORT_B, { macAddress: 'not-a-mac' });
    m.portStates['cccccccc-1'] = port('cccccccc-1', { revisionNumber: 0 });
    m.portStates['dddddddd-1'] = port('dddddddd-1', { adminStateUp: false });
    m.portStates['eeeeeeee-1'] = port('eeeeeeee-1', {}, 9 as alcor.OperationType);
    m.portStates['ffffffff-1'] = port('ffffffff-1', {}, Op.INFO);
    m.portStates['99999999-1'] = port('99999999-1', { fixedIps: [{ subnetId: 'no-such-subnet', ipAddress: '10.1.0.9' }] });
    m.neighborStates['L2/no-host'] = neighborState({ id: 'n-no-host', vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.7', mac: 'fa:16:3e:00:00:07', hostIp: '' });
    m.dhcpStates['d-bad'] = dhcpState('d-bad', SUBNET, '', '10.1.0.9');
    const { replies, code } = await client!.push(m);
    expect(code).toBe(status.OK);
    expect(statusesOf(replies[0]!)).toEqual([
      { id: 'd-1', type: 'DHCP', op: 'CREATE', status: 'SUCCESS' },
      { id: 'd-bad', type: 'DHCP', op: 'CREATE', status: 'INVALID_ARG' },
      { id: 'n-no-host', type: 'NEIGHBOR', op: 'CREATE', status: 'INVALID_ARG' },
      { id: '', type: 'PORT', op: 'CREATE', status: 'INVALID_ARG' },
      { id: '99999999-1', type: 'PORT', op: 'CREATE', status: 'INVALID_ARG' },
      { id: PORT_A, type: 'PORT', op: 'CREATE', status: 'SUCCESS' },
      { id: PORT_B, type: 'PORT', op: 'CREATE', status: 'INVALID_ARG' },
      { id: 'cccccccc-1', type: 'PORT', op: 'CREATE', status: 'INVALID_ARG' },
      { id: 'dddddddd-1', type: 'PORT', op: 'CREATE', status: 'INVALID_ARG' },
      { id: 'eeeeeeee-1', type: 'PORT', op: 'UNRECOGNIZED', status: 'INVALID_ARG' },
      { id: 'ffffffff-1', type: 'PORT', op: 'INFO', status: 'FAILURE' },
      { id: 'r-1', type: 'ROUTER', op: 'INFO', status: 'SUCCESS' },
    ]);
    // Nothing half-made: only the valid port is tagged, only the valid remote neighbor is programmed.
    expect([...dp.attached.keys()]).toEqual([`tap${PORT_A.slice(0, 11)}`]);
    expect(agent!.snapshot().neighbors.map((n) => n.ip)).toEqual(['10.1.0.6']);
  });

  it('undoes a bind with DELETE (and an UPDATE that clears the device fields), neighbors included', async () => {
    const dp = await start();
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    await client!.push(bindA());
    const del = bindA();
    del.portStates[PORT_A]!.operationType = Op.UPDATE;
    del.portStates[PORT_A]!.configuration!.deviceId = '';
    del.portStates[PORT_A]!.configuration!.deviceOwner = '';
    del.dhcpStates['d-1']!.operationType = Op.DELETE;
    del.routerStates['r-1']!.operationType = Op.DELETE;
    del.securityGroupStates['sg-1']!.operationType = Op.DELETE;
    del.neighborStates[`L2/${PORT_B}`]!.operationType = Op.DELETE;
    const { replies } = await client!.push(del);
    expect(statusesOf(replies[0]!).map((s) => `${s.type} ${s.op} ${s.status}`)).toEqual(['DHCP DELETE SUCCESS', 'PORT UPDATE SUCCESS', 'ROUTER DELETE SUCCESS']);
    expect(dp.attached.size).toBe(0);
    expect(agent!.snapshot()).toMatchObject({ neighbors: [], dhcp: 0, routers: 0, securityGroups: 0 });
    expect(dp.tunnels()).toBe(0);
  });

  it('keeps neighbors only for VNIs it has a port in: none programmed without one, all dropped with the last one', async () => {
    const dp = await start();
    const alone = emptyV2();
    alone.subnetStates[SUBNET] = subnetState({ id: SUBNET, vpcId: VPC, cidr: '10.1.0.0/16', vni: 700 });
    alone.neighborStates[`L2/${PORT_B}`] = neighborState({ id: PORT_B, vpcId: VPC, subnetId: SUBNET, ip: '10.1.0.6', mac: 'fa:16:3e:00:00:0b', hostIp: PEER_IP });
    await client!.push(alone);
    expect(agent!.snapshot().neighbors).toEqual([]);
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    await client!.push(bindA());
    expect(agent!.snapshot().neighbors.map((n) => n.ip)).toEqual(['10.1.0.6']);
    // The unbind as Alcor's NCM sends it to the port's host: the port DELETE with the subnet's other
    // neighbors still CREATE (from its cache). The host has no port left in the VNI: they all go.
    const unbind = bindA();
    unbind.portStates[PORT_A]!.operationType = Op.DELETE;
    unbind.dhcpStates['d-1']!.operationType = Op.DELETE;
    unbind.neighborStates[`L2/${PORT_A}`]!.operationType = Op.DELETE;
    await client!.push(unbind);
    expect(agent!.snapshot().neighbors).toEqual([]);
    expect(dp.tunnels()).toBe(0);
  });

  it('answers the v1 unary push, with a status per neighbor as Alcor\'s agent does on that path', async () => {
    const dp = await start();
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    const v2 = bindA();
    const reply = await client!.pushV1({
      formatVersion: 101, vpcStates: Object.values(v2.vpcStates), subnetStates: Object.values(v2.subnetStates), portStates: Object.values(v2.portStates),
      neighborStates: Object.values(v2.neighborStates), securityGroupStates: [], dhcpStates: Object.values(v2.dhcpStates), routerStates: [], gatewayStates: [],
    });
    expect(statusesOf(reply).map((s) => `${s.type} ${s.id} ${s.status}`)).toEqual([
      'DHCP d-1 SUCCESS', `NEIGHBOR ${PORT_A} SUCCESS`, `NEIGHBOR ${PORT_B} SUCCESS`, `PORT ${PORT_A} SUCCESS`,
    ]);
  });
});

describe('GoalState server: PENDING ports and the VM create path', () => {
  it('answers PENDING for a port OVS does not have yet, programs it once it appears, and then the VM\'s wait ends', async () => {
    const dp = await start();
    const since = Date.now();
    const waiting = agent!.programmed(PORT_A, { sinceMs: since, timeoutMs: 10_000 });
    const { replies } = await client!.push(bindA());
    expect(statusesOf(replies[0]!).find((s) => s.type === 'PORT')).toMatchObject({ status: 'PENDING' });
    expect(dp.attached.size).toBe(0);
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    const done = await waiting;
    expect(done.receivedAtMs).toBeGreaterThanOrEqual(since);
    expect(done.appliedAtMs).toBeGreaterThanOrEqual(done.receivedAtMs);
    expect(dp.attached.get(`tap${PORT_A.slice(0, 11)}`)).toBe(700);
  });

  it('fails the wait with the reason when no GoalState comes, or when the port stays PENDING', async () => {
    await start();
    await expect(agent!.programmed(PORT_B, { sinceMs: Date.now(), timeoutMs: 100 })).rejects.toThrow(GoalStateTimeoutError);
    await expect(agent!.programmed(PORT_B, { sinceMs: Date.now(), timeoutMs: 100 })).rejects.toThrow(/no GoalState for it reached this host/);
    const since = Date.now();
    await client!.push(bindA());
    await expect(agent!.programmed(PORT_A, { sinceMs: since, timeoutMs: 100 })).rejects.toThrow(/PENDING: OVS has no port tapaaaaaaaa-11/);
  });

  it('does not count a GoalState applied before the bind was sent', async () => {
    const dp = await start();
    dp.taps.add(`tap${PORT_A.slice(0, 11)}`);
    await client!.push(bindA());
    await expect(agent!.programmed(PORT_A, { sinceMs: Date.now() + 1, timeoutMs: 100 })).rejects.toThrow(GoalStateTimeoutError);
  });
});
