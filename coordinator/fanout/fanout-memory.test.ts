// What a chunk in flight keeps alive. A million VMs in flight through thousands of agents: each
// chunk's operations held until its last result would be copied by every young-generation
// collection meanwhile (that was a third of the coordinator's GC time at 200,000 VMs).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { AgentChannel } from '../registry/agent-channel.js';
import { DEFAULT_FANOUT, type HostWork, fanOut } from './fanout.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const op = (i: number): agentV1.VmOperation => ({ op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: `v${i}`, name: `v${i}` }) }, startOffsetMs: 0 });
const ready = (id: string): agentV1.VmResult => agentV1.VmResult.fromPartial({ id, status: agentV1.VmStatus.VM_STATUS_READY });

describe('a chunk in flight', () => {
  it('holds none of its operations once its Apply is sent down the agent\'s stream, and still gets every result', async () => {
    const built: Array<WeakRef<agentV1.VmOperation>> = [];
    const work: HostWork = {
      host: 'h0', count: 3,
      operations: (from, to) => [0, 1, 2].slice(from, to).map((i) => {
        const o = op(i);
        built.push(new WeakRef(o));
        return o;
      }),
    };
    // The stream serializes a message as it is written: the channel's send keeps nothing of it.
    const sentIds: number[] = [];
    const channel = new AgentChannel('h0', (m) => {
      if (m.call) sentIds.push(m.call.id);
    });
    const results: string[] = [];
    const done = fanOut([work], { clientFor: () => channel, waitFor: async () => true }, { onResult: (_, r) => results.push(r.id) }, 0, { ...DEFAULT_FANOUT, chunkSize: 3 });
    // WeakRefs hold their targets to the end of the job that made them.
    await new Promise((r) => setImmediate(r));
    gc();
    expect(sentIds).toHaveLength(1);
    expect(built).toHaveLength(3);
    expect(built.filter((r) => r.deref() !== undefined)).toHaveLength(0);

    channel.deliver({ id: sentIds[0]!, done: true, error: undefined, response: { $case: 'apply', value: { results: ['v0', 'v1', 'v2'].map(ready) } } });
    await done;
    expect(results).toEqual(['v0', 'v1', 'v2']);
  });
});
