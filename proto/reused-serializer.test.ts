import { describe, expect, it } from 'vitest';
import { coordinatorV1 } from './index.js';
import { CoordinatorServiceReused } from './reused-serializer.js';

const setTunnels = (id: number, addresses: number): coordinatorV1.CoordinatorMessage => ({
  heartbeatIntervalMs: 0, cancel: 0,
  call: { id, request: { $case: 'setTunnels', value: { tunnels: [], groups: [{ vni: 7, remoteIpv4: Buffer.alloc(4 * addresses, id), remoteMac: Buffer.alloc(0) }], type: 0, flood: false } } },
});

describe('CoordinatorServiceReused', () => {
  it('serializes Register\'s messages as the generated serializer does, large and small in turn, each valid until the next', () => {
    const serialize = CoordinatorServiceReused.register.responseSerialize;
    const generated = coordinatorV1.CoordinatorService.register.responseSerialize;
    const messages = [setTunnels(1, 10_000), setTunnels(2, 3), { heartbeatIntervalMs: 5000, cancel: 0, call: undefined }, setTunnels(4, 20_000), setTunnels(5, 1)];
    for (const m of messages) {
      const bytes = serialize(m);
      expect(Buffer.compare(bytes, generated(m))).toBe(0);
      expect(coordinatorV1.CoordinatorMessage.decode(bytes)).toEqual(m);
    }
    // The other calls are the generated ones.
    expect(CoordinatorServiceReused.createScenario).toBe(coordinatorV1.CoordinatorService.createScenario);
  });
});
