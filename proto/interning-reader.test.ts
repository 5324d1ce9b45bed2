import { describe, expect, it } from 'vitest';
import { agentV1, coordinatorV1 } from './index.js';
import { InterningReader, StringTable } from './interning-reader.js';
import { CoordinatorServiceReused } from './reused-serializer.js';

const result = (i: number, extra: Partial<agentV1.VmResult> = {}): agentV1.VmResult => agentV1.VmResult.fromPartial({
  id: `bench-0-0-${i}`, name: `bench-0-0-${i}`, status: agentV1.VmStatus.VM_STATUS_READY, ip: `10.0.${i >> 8}.${i & 255}`, prefixLength: 8,
  mac: '02:ab:00:00:00:01', portName: `mt${i.toString(36)}`, totalMicros: 1000 + i, ofport: i,
  steps: [{ step: 'netns', micros: 10 }, { step: 'veth', micros: 20 }, { step: 'ovs-port', micros: 30 }, { step: 'ready', micros: 40 }],
  ...extra,
});

const applyReply = (results: agentV1.VmResult[]): coordinatorV1.AgentMessage => ({
  body: { $case: 'reply', value: { id: 7, done: false, error: undefined, response: { $case: 'apply', value: { results } } } },
});

const bytesOf = (m: coordinatorV1.AgentMessage): Uint8Array => coordinatorV1.AgentMessage.encode(m).finish();

describe('InterningReader', () => {
  it('decodes agents\' messages exactly as the generated decoder does: repeated, unique, long and non-ASCII strings, empty ones', () => {
    const table = new StringTable();
    const results = Array.from({ length: 20_000 }, (_, i) => result(i));
    results.push(result(20_000, {
      status: agentV1.VmStatus.VM_STATUS_FAILED, ip: '',
      error: { code: 'FAILED_PRECONDITION', step: 'ovs-port', message: 'ovs-vswitchd: no such bridge «br-int» ✗ (a message longer than what is interned)' },
    }));
    results.push(result(20_001, { name: 'vm-ü', portName: '' }));
    // Twice: the second pass finds the strings of the first in the table.
    for (let pass = 0; pass < 2; pass++) {
      const bytes = bytesOf(applyReply(results));
      const decoded = coordinatorV1.AgentMessage.decode(new InterningReader(bytes, table));
      expect(decoded).toEqual(coordinatorV1.AgentMessage.decode(bytes));
    }
    expect(table.slots).toContain('ovs-port');
    expect(table.slots).toContain('netns');
  });

  it('a truncated message fails as it does with the generated decoder', () => {
    const bytes = bytesOf(applyReply([result(1)]));
    for (const cut of [bytes.length - 1, bytes.length - 5, 12]) {
      const part = bytes.subarray(0, cut);
      const generated = ((): unknown => {
        try {
          return coordinatorV1.AgentMessage.decode(part);
        } catch (e) {
          return e;
        }
      })();
      expect(generated).toBeInstanceOf(Error);
      expect(() => coordinatorV1.AgentMessage.decode(new InterningReader(part, new StringTable()))).toThrow((generated as Error).constructor as ErrorConstructor);
    }
  });

  it('is what the coordinator\'s Register stream decodes agents\' messages with', () => {
    const m = applyReply([result(1), result(2)]);
    expect(CoordinatorServiceReused.register.requestDeserialize(Buffer.from(bytesOf(m)))).toEqual(m);
  });
});
