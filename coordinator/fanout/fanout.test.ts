import { status } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { type AgentPort, DEFAULT_FANOUT, fanOut } from './fanout.js';

const op = (i: number): agentV1.VmOperation => ({ op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: `v${i}`, name: `v${i}` }) }, startOffsetMs: 0 });
const ready = (id: string): agentV1.VmResult => agentV1.VmResult.fromPartial({ id, status: agentV1.VmStatus.VM_STATUS_READY });
const config = { ...DEFAULT_FANOUT, chunkSize: 3, backoff: { initialMs: 1, maxMs: 2 } };

describe('fanOut', () => {
  it('sends plans in chunks, one Apply per chunk, and reports every result', async () => {
    const calls: string[][] = [];
    const agent: AgentPort = {
      apply: async (req, onResult) => {
        calls.push(req.operations.map((o) => o.op!.value.id));
        req.operations.forEach((o) => onResult(ready(o.op!.value.id)));
      },
    };
    const results: string[] = [];
    await fanOut([{ host: 'h0', operations: [0, 1, 2, 3, 4].map(op) }], () => agent, { beforeSend: () => {}, onResult: (_, r) => results.push(r.id) }, 0, config);
    expect(calls).toEqual([['v0', 'v1', 'v2'], ['v3', 'v4']]);
    expect(results.sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('resends only the unanswered VMs after a transient failure', async () => {
    const calls: string[][] = [];
    let first = true;
    const agent: AgentPort = {
      apply: async (req, onResult) => {
        calls.push(req.operations.map((o) => o.op!.value.id));
        if (first) {
          first = false;
          onResult(ready(req.operations[0]!.op!.value.id));
          throw Object.assign(new Error('connection reset'), { code: status.UNAVAILABLE });
        }
        req.operations.forEach((o) => onResult(ready(o.op!.value.id)));
      },
    };
    const results: string[] = [];
    const retries: number[] = [];
    await fanOut([{ host: 'h0', operations: [0, 1, 2].map(op) }], () => agent, { beforeSend: () => {}, onResult: (_, r) => results.push(r.id), onRetry: (_, __, n) => retries.push(n) }, 0, config);
    expect(calls).toEqual([['v0', 'v1', 'v2'], ['v1', 'v2']]);
    expect(results).toEqual(['v0', 'v1', 'v2']);
    expect(retries).toEqual([2]);
  });

  it('fails the VMs of an agent that stays unreachable, and does not retry permanent errors', async () => {
    const results: agentV1.VmResult[] = [];
    await fanOut([{ host: 'gone', operations: [op(0)] }], () => undefined, { beforeSend: () => {}, onResult: (_, r) => results.push(r) }, 0, { ...config, retries: 2 });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: 'v0', status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'UNAVAILABLE' } });
    expect(results[0]!.error!.message).toMatch(/not connected/);

    let calls = 0;
    const strict: AgentPort = { apply: async () => { calls++; throw Object.assign(new Error('bad field'), { code: status.INVALID_ARGUMENT }); } };
    const out: agentV1.VmResult[] = [];
    await fanOut([{ host: 'h', operations: [op(1)] }], () => strict, { beforeSend: () => {}, onResult: (_, r) => out.push(r) }, 0, config);
    expect(calls).toBe(1);
    expect(out[0]!.error!.message).toMatch(/bad field/);
  });
});
