// Fans a scenario's per-host plans out to agents: one Apply stream per chunk of a host's plan (not
// one RPC per VM), bounded agents in flight, per-VM results streamed back. Operations are built
// per chunk as it is sent, so a million-VM plan is never a million messages in memory.
//
// A host's work may have to be prepared before each of its chunks goes out (the OVN provider
// writes the chunk's ports into OVN's northbound database): `prepare` is awaited first; when it
// throws it is tried again after backoff, and when its retries are spent the chunk's VMs fail at
// step `control-plane` without being sent.
//
// Failures: a transient one (deadline, agent busy) resends only the VMs that have no result yet,
// after backoff. An agent that is gone (not connected) is waited for: its unanswered VMs are
// reported as waiting, and sent again when it registers again. An agent treats a repeated create
// of the same VM as a no-op, so a VM is never made twice. An agent that stays connected but sends
// no result for a chunk within the progress deadline (progress-watch.ts) is stalled: the
// directory drops it (it must register again) and its VMs wait as a lost agent's do. The
// lost-agent timeout counts from when the VMs began to wait and only a result resets it, so an
// agent that comes back stalled again and again still ends with its VMs failed.
import { status } from '@grpc/grpc-js';
import { errorMessage, forEachBounded } from '@merak/common';
import { agentV1 } from '@merak/proto';
import { type BackoffConfig, backoffDelay } from './backoff.js';
import { ProgressWatch } from './progress-watch.js';

/** The narrow part of an agent client the fanout uses. */
export interface AgentPort {
  apply(req: agentV1.ApplyRequest, onResult: (r: agentV1.VmResult) => void, signal?: AbortSignal): Promise<void>;
}

/** Where agents come from: the registry's view of who is connected. */
export interface AgentDirectory {
  /** A client for a connected agent; undefined when it is not connected. */
  clientFor(host: string): AgentPort | undefined;
  /** Resolves true once the agent is connected (at once if it is), false after `timeoutMs` or on abort. */
  waitFor(host: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** The agent missed the progress deadline: treat it as lost (it must register again). */
  stalled?(host: string, reason: string): void;
}

export interface FanoutConfig {
  /** Operations per Apply call. */
  readonly chunkSize: number;
  /** Chunks (agents) worked on at once. */
  readonly agentParallelism: number;
  /** VMs in flight inside one agent (the Apply's concurrency). */
  readonly vmConcurrency: number;
  /** Resends after transient failures of a connected agent. */
  readonly retries: number;
  readonly backoff: BackoffConfig;
  /** How long to wait for a lost agent to come back before its VMs fail. */
  readonly agentReturnTimeoutMs: number;
  /** How long a chunk sent to a connected agent may go without a result (VMs not yet due aside) before the agent is treated as lost. */
  readonly progressDeadlineMs: number;
}

export const DEFAULT_FANOUT: FanoutConfig = {
  chunkSize: 2000, agentParallelism: 256, vmConcurrency: 16, retries: 5, backoff: { initialMs: 200, maxMs: 5000 }, agentReturnTimeoutMs: 600_000,
  progressDeadlineMs: 60_000,
};

export interface HostWork {
  readonly host: string;
  readonly count: number;
  /** Operations [from, to) of this host's work, built when its chunk is sent. */
  operations(from: number, to: number): agentV1.VmOperation[];
  /** Before operations [from, to) are sent (once per chunk; again after it threw; `attempt` from 0). */
  prepare?(from: number, to: number, attempt: number): Promise<void>;
}

export interface FanoutHooks {
  onResult(host: string, result: agentV1.VmResult): void;
  /** The agent is not connected; these operations wait for it to come back. */
  onWaiting?(host: string, operations: readonly agentV1.VmOperation[]): void;
  onRetry?(host: string, attempt: number, missing: number, reason: string): void;
  /** The agent sent no result for `idleMs` (past the progress deadline) with `outstanding` VMs unanswered. */
  onStalled?(host: string, outstanding: number, idleMs: number): void;
}

const TRANSIENT = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.INTERNAL, status.UNKNOWN, status.CANCELLED]);

function opId(op: agentV1.VmOperation): string {
  return op.op?.value.id ?? '';
}

function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

/** A VM the fanout could not get a result for (agent gone, retries spent, or a permanent error). */
export function undeliveredResult(op: agentV1.VmOperation, code: string, reason: string, step = 'fanout'): agentV1.VmResult {
  const v = op.op?.value;
  return agentV1.VmResult.fromPartial({ id: v?.id ?? '', name: v?.name ?? '', status: agentV1.VmStatus.VM_STATUS_FAILED, error: { code, message: reason, step } });
}

/**
 * A chunk's VMs without a result yet: each id's position (set once, when the chunk is first built)
 * and a flag per position. Nothing is deleted: a Map that shrinks reallocates its table, and a
 * chunk's table outlives young-generation collections.
 */
class Unanswered {
  private readonly position = new Map<string, number>();
  private offsets = new Float64Array(0);
  private answered = new Uint8Array(0);
  size = 0;

  fill(ops: readonly agentV1.VmOperation[]): void {
    this.offsets = new Float64Array(ops.length);
    this.answered = new Uint8Array(ops.length);
    ops.forEach((op, k) => {
      this.position.set(opId(op), k);
      this.offsets[k] = op.startOffsetMs;
    });
    this.size = ops.length;
  }

  has(id: string): boolean {
    const k = this.position.get(id);
    return k !== undefined && this.answered[k] === 0;
  }

  answer(id: string): void {
    const k = this.position.get(id);
    if (k === undefined || this.answered[k] === 1) return;
    this.answered[k] = 1;
    this.size--;
  }

  /** The start offsets (ms) of the VMs still without a result. */
  *startOffsets(): Generator<number> {
    for (let k = 0; k < this.answered.length; k++) if (this.answered[k] === 0) yield this.offsets[k]!;
  }
}

/** "600 s", "2.5 s": durations in reasons, tenths only where they matter. */
const seconds = (ms: number): string => `${ms >= 10_000 ? Math.round(ms / 1000) : Math.round(ms / 100) / 10} s`;

/** The step a chunk's VMs fail at when it could not be prepared. */
export const PREPARE_STEP = 'control-plane';

export async function fanOut(
  work: readonly HostWork[],
  agents: AgentDirectory,
  hooks: FanoutHooks,
  startAtUnixMs: number,
  config: FanoutConfig = DEFAULT_FANOUT,
  signal?: AbortSignal,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  const chunks: Array<{ work: HostWork; from: number; to: number }> = [];
  for (const w of work) for (let i = 0; i < w.count; i += config.chunkSize) chunks.push({ work: w, from: i, to: Math.min(w.count, i + config.chunkSize) });

  /** false: the chunk's VMs failed (or the fan-out was stopped), nothing to send. */
  async function prepareChunk(w: HostWork, from: number, to: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await w.prepare!(from, to, attempt);
        return true;
      } catch (e) {
        if (signal?.aborted) return false;
        const reason = errorMessage(e);
        if (attempt >= config.retries) {
          for (const op of w.operations(from, to)) hooks.onResult(w.host, undeliveredResult(op, 'UNAVAILABLE', `${w.host}: could not prepare its VMs: ${reason} (after ${config.retries} retries)`, PREPARE_STEP));
          return false;
        }
        hooks.onRetry?.(w.host, attempt + 1, to - from, `prepare: ${reason}`);
        await sleep(backoffDelay(attempt, config.backoff));
      }
    }
  }

  // Applies in flight are cancelled through one listener on the fan-out's signal, not one each:
  // an AbortSignal's listeners are a list walked on every add and remove.
  const inFlight = new Set<AbortController>();
  const onStop = (): void => {
    for (const c of inFlight) c.abort();
  };
  signal?.addEventListener('abort', onStop, { once: true });

  /**
   * Sends operations [from, to) of `w` until each has a result. While the chunk is out only the
   * unanswered VMs' ids and start offsets are kept, not their operations: those would outlive many
   * young-generation collections and be copied by each. Operations are built when sent (again
   * only to be sent again, or reported waiting or failed) and held by no frame that awaits: a
   * suspended async function keeps its parameters and temporaries.
   */
  async function sendChunk(w: HostWork, from: number, to: number): Promise<void> {
    const host = w.host;
    const unanswered = new Unanswered();
    let built = false;
    // Set once something sent may have been made (the answer was lost): the agent looks before it makes.
    let maybeExists = false;
    const missing = (): agentV1.VmOperation[] => {
      let ops = w.operations(from, to);
      if (!built) unanswered.fill(ops);
      else ops = ops.filter((op) => unanswered.has(opId(op)));
      built = true;
      if (maybeExists) for (const op of ops) op.maybeExists = true;
      return ops;
    };
    const applyMissing = (client: AgentPort, onResult: (r: agentV1.VmResult) => void, stop: AbortSignal): Promise<void> =>
      client.apply({ operations: missing(), concurrency: config.vmConcurrency, startAtUnixMs }, onResult, stop);
    // When these VMs began to wait for their agent (lost or stalled); a result resets it.
    let waitingSince: number | undefined;
    let stalled = false;
    const giveUp = (): void => {
      const reason = stalled
        ? `${host}: the agent sent no result for ${seconds(config.progressDeadlineMs)} (progress deadline) and did not come back working within ${seconds(config.agentReturnTimeoutMs)}`
        : `${host}: the agent is not connected and did not come back within ${seconds(config.agentReturnTimeoutMs)}`;
      for (const op of missing()) hooks.onResult(host, undeliveredResult(op, stalled ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE', reason));
    };
    for (let attempt = 0; ; ) {
      const left = waitingSince === undefined ? config.agentReturnTimeoutMs : config.agentReturnTimeoutMs - (Date.now() - waitingSince);
      const client = agents.clientFor(host);
      // A stalled agent asked again is still waited for: its time runs out as a lost one's does.
      if (left <= 0 && (stalled || !client)) return giveUp();
      if (!client) {
        hooks.onWaiting?.(host, missing());
        waitingSince ??= Date.now();
        if (await agents.waitFor(host, left, signal)) {
          maybeExists = true;
          continue;
        }
        if (signal?.aborted) return;
        return giveUp();
      }
      let failure: unknown;
      // The Apply is cancelled when the fan-out stops or the agent stalls.
      const stop = new AbortController();
      inFlight.add(stop);
      if (signal?.aborted) stop.abort();
      const watch = new ProgressWatch({
        deadlineMs: config.progressDeadlineMs, startAtUnixMs,
        outstanding: () => unanswered.startOffsets(),
        onStall: (idleMs) => {
          hooks.onStalled?.(host, unanswered.size, idleMs);
          stop.abort();
        },
      });
      try {
        await applyMissing(client, (r) => {
          // A repeated result (or one for a VM not in this chunk) is the hooks' to judge, as any result is.
          unanswered.answer(r.id);
          watch.progress();
          waitingSince = undefined;
          hooks.onResult(host, r);
        }, stop.signal);
      } catch (e) {
        failure = e;
      } finally {
        watch.stop();
        inFlight.delete(stop);
      }
      if (unanswered.size === 0 || signal?.aborted) return;
      maybeExists = true;
      if (watch.fired) {
        // Not a retry: the agent is lost until it registers again, and the VMs wait for it.
        stalled = true;
        waitingSince ??= Date.now();
        agents.stalled?.(host, `no result for ${seconds(config.progressDeadlineMs)} with ${unanswered.size} VMs outstanding`);
        continue;
      }
      const code = statusOf(failure);
      const reason = failure instanceof Error ? failure.message : 'the agent ended the stream without a result';
      if (code !== undefined && !TRANSIENT.has(code)) {
        for (const op of missing()) hooks.onResult(host, undeliveredResult(op, status[code] ?? 'UNKNOWN', `${host}: ${reason}`));
        return;
      }
      if (++attempt > config.retries) {
        for (const op of missing()) hooks.onResult(host, undeliveredResult(op, 'UNAVAILABLE', `${host}: ${reason} (after ${config.retries} retries)`));
        return;
      }
      hooks.onRetry?.(host, attempt, unanswered.size, reason);
      await sleep(backoffDelay(attempt - 1, config.backoff));
    }
  }

  // A chunk's failures are its VMs' results (hooks.onResult), not throws; a stop stops new chunks.
  try {
    await forEachBounded(chunks, config.agentParallelism, async (c) => {
      if (c.work.prepare && !(await prepareChunk(c.work, c.from, c.to))) return;
      if (signal?.aborted) return;
      await sendChunk(c.work, c.from, c.to);
    }, { signal });
  } finally {
    signal?.removeEventListener('abort', onStop);
  }
}
