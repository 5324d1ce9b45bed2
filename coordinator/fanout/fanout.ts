// Fans a scenario's per-host plans out to agents: one Apply stream per chunk of a host's plan (not
// one RPC per VM), bounded agents in flight, per-VM results streamed back. A transient failure
// (agent unreachable, deadline) resends only the VMs that have no result yet, after backoff: an
// agent treats a repeated create of the same VM as a no-op, so a VM is never made twice.
import { status } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import { type BackoffConfig, backoffDelay } from './backoff.js';

/** The narrow part of an agent client the fanout uses. */
export interface AgentPort {
  apply(req: agentV1.ApplyRequest, onResult: (r: agentV1.VmResult) => void, signal?: AbortSignal): Promise<void>;
}

export interface FanoutConfig {
  /** Operations per Apply call. */
  readonly chunkSize: number;
  /** Agents worked on at once. */
  readonly agentParallelism: number;
  /** VMs in flight inside one agent (the Apply's concurrency). */
  readonly vmConcurrency: number;
  readonly retries: number;
  readonly backoff: BackoffConfig;
}

export const DEFAULT_FANOUT: FanoutConfig = { chunkSize: 2000, agentParallelism: 256, vmConcurrency: 16, retries: 5, backoff: { initialMs: 200, maxMs: 5000 } };

export interface HostWork {
  readonly host: string;
  readonly operations: readonly agentV1.VmOperation[];
}

const TRANSIENT = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.INTERNAL, status.UNKNOWN]);

function opId(op: agentV1.VmOperation): string {
  return op.op?.value.id ?? '';
}

function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

/** A VM the fanout could not get a result for (agent gone, retries spent, or a permanent error). */
export function undeliveredResult(op: agentV1.VmOperation, reason: string): agentV1.VmResult {
  const v = op.op?.value;
  return agentV1.VmResult.fromPartial({ id: v?.id ?? '', name: v?.name ?? '', status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code: 'UNAVAILABLE', message: reason, step: 'fanout' } });
}

export interface FanoutHooks {
  /** Before a chunk is sent (record it as sent, durably). */
  beforeSend(host: string, operations: readonly agentV1.VmOperation[]): void;
  onResult(host: string, result: agentV1.VmResult): void;
  onRetry?(host: string, attempt: number, missing: number, reason: string): void;
}

export async function fanOut(
  work: readonly HostWork[],
  clientFor: (host: string) => AgentPort | undefined,
  hooks: FanoutHooks,
  startAtUnixMs: number,
  config: FanoutConfig = DEFAULT_FANOUT,
  signal?: AbortSignal,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  const chunks: Array<{ host: string; operations: readonly agentV1.VmOperation[] }> = [];
  for (const w of work) {
    for (let i = 0; i < w.operations.length; i += config.chunkSize) chunks.push({ host: w.host, operations: w.operations.slice(i, i + config.chunkSize) });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length && !signal?.aborted) {
      const chunk = chunks[next++]!;
      await sendChunk(chunk.host, chunk.operations);
    }
  };

  async function sendChunk(host: string, operations: readonly agentV1.VmOperation[]): Promise<void> {
    let missing = operations;
    for (let attempt = 0; ; attempt++) {
      const client = clientFor(host);
      const answered = new Set<string>();
      let failure: unknown;
      if (!client) {
        failure = Object.assign(new Error(`agent ${host} is not connected`), { code: status.UNAVAILABLE });
      } else {
        hooks.beforeSend(host, missing);
        try {
          await client.apply({ operations: [...missing], concurrency: config.vmConcurrency, startAtUnixMs }, (r) => {
            answered.add(r.id);
            hooks.onResult(host, r);
          }, signal);
        } catch (e) {
          failure = e;
        }
      }
      missing = missing.filter((op) => !answered.has(opId(op)));
      if (missing.length === 0) return;
      const code = statusOf(failure);
      const reason = failure instanceof Error ? failure.message : 'the agent ended the stream without a result';
      if (signal?.aborted || attempt >= config.retries || (code !== undefined && !TRANSIENT.has(code))) {
        for (const op of missing) hooks.onResult(host, undeliveredResult(op, `${host}: ${reason}`));
        return;
      }
      hooks.onRetry?.(host, attempt + 1, missing.length, reason);
      await sleep(backoffDelay(attempt, config.backoff));
    }
  }

  await Promise.all(Array.from({ length: Math.min(config.agentParallelism, chunks.length) }, worker));
}
