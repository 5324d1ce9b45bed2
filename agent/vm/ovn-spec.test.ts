// OVN VMs as the agent validates them, and as a hollow agent answers them (ready at once).
import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@merak/common';
import { HollowExecutor } from './hollow-executor.js';
import { DEFAULT_OVN_TIMEOUT_MS, type VmSpec, validateApply } from './spec.js';
import { StepTimer } from './stages.js';

const limits = { maxOperations: 100, maxConcurrency: 64, defaultConcurrency: 8 };
const ovnVm = (over: Partial<agentV1.VmSpec> = {}): agentV1.VmOperation => ({
  op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: 'vm-1', name: 'ns-vm-1', ip: '10.1.0.2', prefixLength: 16, mac: '02:00:00:00:00:01', ifaceId: 'sc1-vm-1', ovn: {}, ...over }) },
  startOffsetMs: 0,
});

function specOf(op: agentV1.VmOperation): VmSpec {
  const o = validateApply({ operations: [op], concurrency: 0, startAtUnixMs: 0 }, limits).operations[0]!;
  if (o.kind !== 'create') throw new Error('not a create');
  return o.spec;
}

function rejection(op: agentV1.VmOperation): InvalidArgumentError {
  try {
    specOf(op);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('OVN VM specs', () => {
  it('accept an OVN port with its logical port name; timeout 0 means 60 s', () => {
    expect(specOf(ovnVm())).toMatchObject({ ifaceId: 'sc1-vm-1', vni: 0, ovn: { timeoutMs: DEFAULT_OVN_TIMEOUT_MS }, alcor: undefined });
    expect(DEFAULT_OVN_TIMEOUT_MS).toBe(60_000);
    expect(specOf(ovnVm({ ovn: { timeoutMs: 1500 }, portKind: agentV1.PortKind.PORT_KIND_INTERNAL }))).toMatchObject({ portKind: 'internal', ovn: { timeoutMs: 1500 } });
    expect(specOf(ovnVm({ ovn: undefined, ifaceId: '' })).ovn).toBeUndefined();
  });

  it('require iface_id (what ovn-controller binds by), no VNI, one control plane, a bounded timeout', () => {
    const noIface = rejection(ovnVm({ ifaceId: '' }));
    expect(noIface.field).toBe('operations[0].create.iface_id');
    expect(noIface.message).toMatch(/required with ovn.*logical switch port's name/);
    expect(rejection(ovnVm({ ifaceId: 'has space' })).field).toBe('operations[0].create.iface_id');
    expect(rejection(ovnVm({ vni: 1001 })).field).toBe('operations[0].create.vni');
    expect(rejection(ovnVm({ ovn: { timeoutMs: 600_001 } })).field).toBe('operations[0].create.ovn.timeout_ms');
    const both = ovnVm({ alcor: agentV1.AlcorPort.fromPartial({ portUrl: 'http://127.0.0.1:1' }) });
    expect(rejection(both).field).toBe('operations[0].create.ovn');
  });

  it('are ready at once on a hollow agent, and a resend is the same VM', async () => {
    const hollow = new HollowExecutor();
    const spec = specOf(ovnVm());
    const out = await hollow.create(spec, new StepTimer());
    expect(out).toMatchObject({ alreadyPresent: false, ip: '10.1.0.2' });
    expect(await hollow.create(spec, new StepTimer(), { maybeExists: true })).toMatchObject({ alreadyPresent: true });
    // The same VM without OVN is another VM.
    await expect(hollow.create({ ...spec, ovn: undefined }, new StepTimer())).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await hollow.list()).map((v) => [v.id, v.ifaceId, v.complete])).toEqual([['vm-1', 'sc1-vm-1', true]]);
  });
});
