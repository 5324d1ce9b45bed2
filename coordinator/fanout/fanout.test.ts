import { status } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { type AgentDirectory, type AgentPort, DEFAULT_FANOUT, type HostWork, fanOut } from './fanout.js';

const op = (i: number): agentV1.VmOperation => ({ op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: `v${i}`, name: `v${i}` }) }, startOffsetMs: 0 });
const ready = (id: string): agentV1.VmResult => agentV1.VmResult.fromPartial({ id, status: agentV1.VmStatus.VM_STATUS_READY });
const config = { ...DEFAULT_FANOUT, chunkSize: 3, backoff: { initialMs: 1, maxMs: 2 }, agentReturnTimeoutMs: 50 };
const work = (host: string, ids: number[], built: number[][] = []): HostWork => ({
  host, count: ids.length, operations: (from, to) => (built.push([from, to]), ids.slice(from, to).map(op)),
});
/** A directory where `agent` is always connected. */
const always = (agent: AgentPort): AgentDirectory => ({ clientFor: () => agent, waitFor: async () => true });

describe('fanOut', () => {
  it('sends plans in chunks built only when sent, one Apply per chunk, and reports every result', async () => {
    const calls: string[][] = [];
    const agent: AgentPort = {
      apply: async (req, onResult) => {
        calls.push(req.operations.map((o) => o.op!.value.id));
        req.operations.forEach((o) => onResult(ready(o.op!.value.id)));
      },
    };
    const results: string[] = [];
    const built: number[][] = [];
    await fanOut([work('h0', [0, 1, 2, 3, 4], built)], always(agent), { onResult: (_, r) => results.push(r.id) }, 0, config);
    expect(built).toEqual([[0, 3], [3, 5]]);
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
    await fanOut([work('h0', [0, 1, 2])], always(agent), { onResult: (_, r) => results.push(r.id), onRetry: (_, __, n) => retries.push(n) }, 0, config);
    expect(calls).toEqual([['v0', 'v1', 'v2'], ['v1', 'v2']]);
    expect(results).toEqual(['v0', 'v1', 'v2']);
    expect(retries).toEqual([2]);
  });

  it('waits for a lost agent and sends its VMs again when it is back, without spending retries', async () => {
    let connected = false;
    let back: (() => void) | undefined;
    const agent: AgentPort = { apply: async (req, onResult) => req.operations.forEach((o) => onResult(ready(o.op!.value.id))) };
    const directory: AgentDirectory = {
      clientFor: () => (connected ? agent : undefined),
      waitFor: () => new Promise<boolean>((resolve) => { back = () => resolve(true); }),
    };
    const waiting: string[][] = [];
    const results: string[] = [];
    const done = fanOut([work('h0', [0, 1])], directory, { onResult: (_, r) => results.push(r.id), onWaiting: (_, ops) => waiting.push(ops.map((o) => o.op!.value.id)) }, 0, { ...config, retries: 0 });
    await new Promise((r) => setTimeout(r, 10));
    expect(waiting).toEqual([['v0', 'v1']]);
    expect(results).toEqual([]);
    connected = true;
    back!();
    await done;
    expect(results).toEqual(['v0', 'v1']);
  });

  it('fails the VMs of an agent that does not come back in time, and does not retry permanent errors', async () => {
    const results: agentV1.VmResult[] = [];
    await fanOut([work('gone', [0])], { clientFor: () => undefined, waitFor: async () => false }, { onResult: (_, r) => results.push(r) }, 0, config);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: 'v0', status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'UNAVAILABLE', step: 'fanout' } });
    expect(results[0]!.error!.message).toMatch(/not connected and did not come back within/);

    let calls = 0;
    const strict: AgentPort = { apply: async () => { calls++; throw Object.assign(new Error('bad field'), { code: status.INVALID_ARGUMENT }); } };
    const out: agentV1.VmResult[] = [];
    await fanOut([work('h', [1])], always(strict), { onResult: (_, r) => out.push(r) }, 0, config);
    expect(calls).toBe(1);
    expect(out[0]!.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(out[0]!.error!.message).toMatch(/bad field/);
  });

  it('gives up after the retries a connected agent is allowed', async () => {
    let calls = 0;
    const flaky: AgentPort = { apply: async () => { calls++; throw Object.assign(new Error('busy'), { code: status.RESOURCE_EXHAUSTED }); } };
    const out: agentV1.VmResult[] = [];
    await fanOut([work('h', [1])], always(flaky), { onResult: (_, r) => out.push(r) }, 0, { ...config, retries: 2 });
    expect(calls).toBe(3);
    expect(out[0]!.error!.message).toMatch(/busy \(after 2 retries\)/);
  });

  it('stops without inventing results when aborted', async () => {
    const abort = new AbortController();
    const agent: AgentPort = { apply: (_req, _on, signal) => new Promise((_, reject) => signal!.addEventListener('abort', () => reject(Object.assign(new Error('cancelled'), { code: status.CANCELLED })))) };
    const out: agentV1.VmResult[] = [];
    const done = fanOut([work('h', [1, 2])], always(agent), { onResult: (_, r) => out.push(r) }, 0, config, abort.signal);
    abort.abort();
    await done;
    expect(out).toEqual([]);
  });

  it('prepares each chunk before it is sent, tries a failed preparation again, and fails the chunk when its retries are spent', async () => {
    const events: string[] = [];
    const agent: AgentPort = {
      apply: async (req, onResult) => {
        events.push(`send ${req.operations.map((o) => o.op!.value.id).join(',')}`);
        req.operations.forEach((o) => onResult(ready(o.op!.value.id)));
      },
    };
    const failures = new Map<number, number>([[0, 1]]); // chunk [0,3) fails once
    const prepared: HostWork = {
      ...work('h0', [0, 1, 2, 3, 4]),
      prepare: async (from, to, attempt) => {
        events.push(`prepare ${from}-${to}#${attempt}`);
        if ((failures.get(from) ?? 0) > attempt) throw new Error('northbound busy');
      },
    };
    const results: agentV1.VmResult[] = [];
    await fanOut([prepared], always(agent), { onResult: (_, r) => results.push(r) }, 0, { ...config, agentParallelism: 1 });
    expect(events).toEqual(['prepare 0-3#0', 'prepare 0-3#1', 'send v0,v1,v2', 'prepare 3-5#0', 'send v3,v4']);
    expect(results.every((r) => r.status === agentV1.VmStatus.VM_STATUS_READY)).toBe(true);

    const sent: string[] = [];
    const never: HostWork = { ...work('h1', [7, 8]), prepare: async () => { throw new Error('no northbound'); } };
    const failed: agentV1.VmResult[] = [];
    await fanOut([never], always({ apply: async (req) => { sent.push(...req.operations.map((o) => o.op!.value.id)); } }), { onResult: (_, r) => failed.push(r) }, 0, { ...config, retries: 2 });
    expect(sent).toEqual([]);
    expect(failed.map((r) => [r.id, r.status, r.error?.step, r.error?.code])).toEqual([
      ['v7', agentV1.VmStatus.VM_STATUS_FAILED, 'control-plane', 'UNAVAILABLE'], ['v8', agentV1.VmStatus.VM_STATUS_FAILED, 'control-plane', 'UNAVAILABLE'],
    ]);
    expect(failed[0]!.error!.message).toContain('no northbound');
  });

  describe('progress deadline', () => {
    const deadline = { ...config, progressDeadlineMs: 300, agentReturnTimeoutMs: 5000, retries: 0 };
    /** An agent that keeps the Apply open and answers nothing until cancelled. */
    const silent: AgentPort = {
      apply: (_req, _on, signal) => new Promise((_, reject) => signal!.addEventListener('abort', () => reject(Object.assign(new Error('cancelled'), { code: status.CANCELLED })))),
    };
    const answering: AgentPort = { apply: async (req, onResult) => req.operations.forEach((o) => onResult(ready(o.op!.value.id))) };
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

    it('treats a connected agent that answers nothing as lost: its VMs wait, and are sent again once it registers again', async () => {
      let current: AgentPort | undefined = silent;
      let back: ((ok: boolean) => void) | undefined;
      const events: string[] = [];
      const directory: AgentDirectory = {
        clientFor: () => current,
        waitFor: () => new Promise<boolean>((resolve) => { back = resolve; }),
        stalled: (host) => {
          events.push(`dropped ${host}`);
          current = undefined;
        },
      };
      const results: agentV1.VmResult[] = [];
      const done = fanOut([work('h0', [0, 1])], directory, {
        onResult: (_, r) => results.push(r),
        onWaiting: (_, ops) => events.push(`waiting ${ops.map((o) => o.op!.value.id).join(',')}`),
        onStalled: (host, outstanding) => events.push(`stalled ${host} ${outstanding}`),
      }, Date.now(), deadline);
      while (back === undefined) await sleep(20);
      expect(events).toEqual(['stalled h0 2', 'dropped h0', 'waiting v0,v1']);
      expect(results).toEqual([]);
      current = answering;
      back(true);
      await done;
      expect(results.map((r) => [r.id, r.status])).toEqual([['v0', agentV1.VmStatus.VM_STATUS_READY], ['v1', agentV1.VmStatus.VM_STATUS_READY]]);
    });

    it('fails the VMs with the reason when the stalled agent does not come back in time', async () => {
      let current: AgentPort | undefined = silent;
      const results: agentV1.VmResult[] = [];
      await fanOut([work('h0', [0])], { clientFor: () => current, waitFor: async () => false, stalled: () => { current = undefined; } },
        { onResult: (_, r) => results.push(r) }, Date.now(), deadline);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ id: 'v0', status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'DEADLINE_EXCEEDED', step: 'fanout' } });
      expect(results[0]!.error!.message).toBe('h0: the agent sent no result for 0.3 s (progress deadline) and did not come back working within 5 s');
    });

    it('gives up on an agent that stalls again after every return, once the lost-agent timeout is spent', async () => {
      let stalls = 0;
      const results: agentV1.VmResult[] = [];
      // No `stalled` in this directory: the same agent is asked again at once, and stalls again.
      await fanOut([work('h0', [0])], always(silent), { onResult: (_, r) => results.push(r), onStalled: () => stalls++ }, Date.now(), { ...deadline, agentReturnTimeoutMs: 700 });
      expect(stalls).toBeGreaterThanOrEqual(2);
      expect(results[0]!.error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    });

    it('does not fire on an agent that is slow but answers, nor on VMs scheduled after the deadline', async () => {
      // Slow: one result every 100 ms, 8 VMs (800 ms in all, the deadline 300 ms).
      const slow: AgentPort = {
        apply: async (req, onResult) => {
          for (const o of req.operations) {
            await sleep(100);
            onResult(ready(o.op!.value.id));
          }
        },
      };
      const stalled: string[] = [];
      const results: string[] = [];
      await fanOut([work('slow', [0, 1, 2, 3, 4, 5, 6, 7])], always(slow), { onResult: (_, r) => results.push(r.id), onStalled: (h) => stalled.push(h) }, Date.now(), { ...deadline, chunkSize: 8 });
      // Scheduled: each VM answered at its start, 600 ms and 1200 ms after the scenario's start.
      const startAt = Date.now();
      const punctual: AgentPort = {
        apply: async (req, onResult) => {
          for (const o of req.operations) {
            await sleep(startAt + o.startOffsetMs - Date.now());
            onResult(ready(o.op!.value.id));
          }
        },
      };
      const later: HostWork = { host: 'later', count: 2, operations: (from, to) => [600, 1200].slice(from, to).map((ms, k) => ({ ...op(10 + from + k), startOffsetMs: ms })) };
      await fanOut([later], always(punctual), { onResult: (_, r) => results.push(r.id), onStalled: (h) => stalled.push(h) }, startAt, deadline);
      expect(stalled).toEqual([]);
      expect(results).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v10', 'v11']);
    });
  });
});
