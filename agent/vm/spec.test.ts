import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@merak/common';
import { derivePortName, validateApply } from './spec.js';

const limits = { maxOperations: 100, maxConcurrency: 64, defaultConcurrency: 8 };
const vm = (over: Partial<agentV1.VmSpec> = {}): agentV1.VmOperation => ({
  op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: 'vm-1', name: 'ns-vm-1', ip: '10.1.0.2', prefixLength: 16, gateway: '10.1.0.1', mac: '02:00:00:00:00:01', ...over }) },
  startOffsetMs: 0,
});

function fieldOf(ops: agentV1.VmOperation[]): string {
  try {
    validateApply({ operations: ops, concurrency: 0, startAtUnixMs: 0 }, limits);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return e.field;
    throw e;
  }
  return 'accepted';
}

describe('validateApply', () => {
  it('accepts a good VM and fills defaults', () => {
    const batch = validateApply({ operations: [vm()], concurrency: 0, startAtUnixMs: 0 }, limits);
    expect(batch.concurrency).toBe(8);
    expect(batch.operations[0]).toMatchObject({ kind: 'create', spec: { mtu: 1500, portKind: 'veth', portName: derivePortName('vm-1') } });
    expect(derivePortName('vm-1').length).toBeLessThanOrEqual(15);
  });

  it.each([
    [{ name: 'bad/name' }, 'operations[0].create.name'],
    [{ name: '' }, 'operations[0].create.name'],
    [{ id: 'x'.repeat(65) }, 'operations[0].create.id'],
    [{ ip: '10.1.0.256' }, 'operations[0].create.ip'],
    [{ ip: '010.1.0.2' }, 'operations[0].create.ip'],
    [{ ip: '10.1.0.0' }, 'operations[0].create.ip'],
    [{ ip: '127.0.0.5' }, 'operations[0].create.ip'],
    [{ prefixLength: 31 }, 'operations[0].create.prefix_length'],
    [{ prefixLength: 0 }, 'operations[0].create.prefix_length'],
    [{ gateway: '10.2.0.1' }, 'operations[0].create.gateway'],
    [{ gateway: '10.1.0.2' }, 'operations[0].create.gateway'],
    [{ mac: '02:00:00:00:00' }, 'operations[0].create.mac'],
    [{ mac: '01:00:5e:00:00:01' }, 'operations[0].create.mac'],
    [{ mtu: 20 }, 'operations[0].create.mtu'],
    [{ portName: 'a-very-long-port-name' }, 'operations[0].create.port_name'],
    [{ portName: 'eth0' }, 'operations[0].create.port_name'],
    [{ externalIds: { 'merak-vhost': 'x' } }, 'operations[0].create.external_ids'],
    [{ vni: 0x1000000 }, 'operations[0].create.vni'],
    [{ routes: [{ destination: '10.0.0.0', via: '' }] }, 'operations[0].create.routes[0].destination'],
    [{ routes: [{ destination: '10.1.0.1/16', via: '' }] }, 'operations[0].create.routes[0].destination'],
    [{ routes: [{ destination: '10.9.0.0/16', via: '10.2.0.1' }] }, 'operations[0].create.routes[0].via'],
    [{ routes: [{ destination: '10.9.0.0/16', via: '10.1.0.2' }] }, 'operations[0].create.routes[0].via'],
    [{ routes: Array.from({ length: 17 }, (_, k) => ({ destination: `10.${k}.0.0/16`, via: '' })) }, 'operations[0].create.routes'],
  ])('rejects %j naming %s', (over, field) => {
    expect(fieldOf([vm(over)])).toBe(field);
  });

  it('accepts a VNI and routes, on-link or via a neighbour on the subnet', () => {
    const batch = validateApply({ operations: [vm({ vni: 1001, routes: [{ destination: '10.0.0.0/8', via: '' }, { destination: '172.16.0.0/12', via: '10.1.0.254' }] })], concurrency: 0, startAtUnixMs: 0 }, limits);
    expect(batch.operations[0]).toMatchObject({
      spec: { vni: 1001, routes: [{ destination: '10.0.0.0', prefixLength: 8, via: undefined }, { destination: '172.16.0.0', prefixLength: 12, via: '10.1.0.254' }] },
    });
  });

  it('rejects duplicates within a batch, naming the second', () => {
    expect(fieldOf([vm(), vm({ name: 'other' })])).toBe('operations[1].create.id');
    expect(fieldOf([vm(), vm({ id: 'vm-2' })])).toBe('operations[1].create.name');
    expect(fieldOf([vm(), { op: { $case: 'delete', value: { id: 'vm-1', name: 'zz' } }, startOffsetMs: 0 }])).toBe('operations[1].delete.id');
  });

  it('rejects an empty batch, an oversized one and excess concurrency', () => {
    expect(fieldOf([])).toBe('operations');
    expect(fieldOf(Array.from({ length: 101 }, (_, i) => vm({ id: `v${i}`, name: `n${i}` })))).toBe('operations');
    expect(() => validateApply({ operations: [vm()], concurrency: 65, startAtUnixMs: 0 }, limits)).toThrow(/concurrency/);
  });
});
