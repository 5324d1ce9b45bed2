// Runs a validated batch: each operation at its scheduled time, at most `concurrency` at once,
// one VM id at a time across batches; emits one result per VM as it finishes.
import { errorMessage, forEachBounded } from '@merak/common';
import type { Clock } from './clock.js';
import type { VmExecutor } from './executor.js';
import { KeyedLock } from './keyed-lock.js';
import type { ApplyBatch, VmOperation } from './spec.js';
import { type ApiCall, StepTimer, VmFailure, codeOf, type StepTiming } from './stages.js';

export type VmResultStatus = 'ready' | 'failed' | 'deleted' | 'absent';

export interface VmResult {
  readonly id: string;
  readonly name: string;
  readonly operation: 'create' | 'delete';
  readonly status: VmResultStatus;
  readonly error?: { readonly code: string; readonly message: string; readonly step: string };
  readonly ip: string;
  readonly prefixLength: number;
  readonly mac: string;
  readonly portName: string;
  readonly ofport: number;
  readonly steps: readonly StepTiming[];
  readonly totalMicros: number;
  readonly apiCalls: readonly ApiCall[];
}

export interface RunnerConfig {
  readonly executor: VmExecutor;
  readonly clock: Clock;
  /** The most VMs this vhost holds; creates beyond it fail with CAPACITY. */
  readonly capacity: number;
  /** VMs present when the runner starts (from the executor's list). */
  readonly initialCount: number;
}

export class VmRunner {
  private readonly lock = new KeyedLock();
  private present: number;
  private reserved = 0;

  constructor(private readonly config: RunnerConfig) {
    this.present = config.initialCount;
  }

  /** Runs `fn` while no create or delete of VM `id` runs (a restore after an ovs-vswitchd restart). */
  exclusive(id: string, fn: () => Promise<void>): Promise<void> {
    return this.lock.run(id, fn);
  }

  get vmCount(): number {
    return this.present;
  }

  async run(batch: ApplyBatch, emit: (r: VmResult) => void, signal?: AbortSignal): Promise<void> {
    const { clock } = this.config;
    const startAt = batch.startAtUnixMs > 0 ? batch.startAtUnixMs : clock.nowMs();
    // Stable order by scheduled time; equal offsets keep the caller's order.
    const order = batch.operations.map((op, i) => ({ op, i })).sort((a, b) => a.op.startOffsetMs - b.op.startOffsetMs || a.i - b.i);
    const deletedPorts: string[] = [];
    await forEachBounded(order, batch.concurrency, async ({ op }) => {
      await clock.sleep(startAt + op.startOffsetMs - clock.nowMs(), signal);
      if (signal?.aborted) return;
      const result = await this.lock.run(op.kind === 'create' ? op.spec.id : op.ref.id, () => this.one(op));
      if (result.status === 'deleted') deletedPorts.push(result.portName);
      emit(result);
    }, { signal });
    if (deletedPorts.length > 0) await this.config.executor.settle(deletedPorts);
  }

  private async one(op: VmOperation): Promise<VmResult> {
    const timer = new StepTimer();
    const { executor } = this.config;
    if (op.kind === 'create') {
      const s = op.spec;
      const base = { id: s.id, name: s.name, operation: 'create' as const, ip: s.ip, prefixLength: s.prefixLength, mac: s.mac, portName: s.portName };
      if (this.present + this.reserved >= this.config.capacity) {
        return failed(base, timer, new VmFailure('CAPACITY', 'admit', `this vhost holds at most ${this.config.capacity} VMs`));
      }
      this.reserved++;
      try {
        const out = await executor.create(s, timer, { maybeExists: op.maybeExists });
        if (!out.alreadyPresent) this.present++;
        return { ...base, ip: out.ip ?? base.ip, mac: out.mac ?? base.mac, status: 'ready', ofport: out.ofport, steps: timer.steps, totalMicros: timer.totalMicros(), apiCalls: timer.calls };
      } catch (e) {
        return failed(base, timer, e);
      } finally {
        this.reserved--;
      }
    }
    const base = { id: op.ref.id, name: op.ref.name, operation: 'delete' as const, ip: '', prefixLength: 0, mac: '', portName: '' };
    try {
      const out = await executor.delete(op.ref, timer);
      if (out.status === 'deleted') this.present = Math.max(0, this.present - 1);
      return { ...base, portName: out.portName, status: out.status, ofport: 0, steps: timer.steps, totalMicros: timer.totalMicros(), apiCalls: timer.calls };
    } catch (e) {
      return failed(base, timer, e);
    }
  }
}

function failed(base: Omit<VmResult, 'status' | 'ofport' | 'steps' | 'totalMicros' | 'apiCalls'>, timer: StepTimer, e: unknown): VmResult {
  const step = e instanceof VmFailure ? e.step : 'unknown';
  return {
    ...base,
    status: 'failed',
    error: { code: codeOf(e), message: errorMessage(e), step },
    ofport: 0,
    steps: timer.steps,
    totalMicros: timer.totalMicros(),
    apiCalls: timer.calls,
  };
}
