// A run's VMs through the fan-out: the create (operations built per chunk, results recorded in
// bursts, waiting and stalled agents told) and the delete (every VM of the plan, made or not).
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type AgentDirectory, type FanoutConfig, type FanoutHooks, fanOut } from '../fanout/fanout.js';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics.js';
import type { PlannedVm } from '../plan/index.js';
import { type ControlPlane, type ScenarioContext, plannedVmSpec } from '../providers/provider.js';
import { type Store, type VmResultRow, stepsText } from '../store/store.js';
import { LiveResults } from './live-results.js';
import { DELETED, FAILED, PENDING, READY, type Run, WAITING } from './run-state.js';

const FLUSH_MS = 200;
// Small bursts: a row waiting for its burst outlives young-generation collections if the burst is
// large (5,000 rows took ~0.5 s at a million VMs), and is then copied and promoted; a commit is cheap.
const FLUSH_ROWS = 512;

export interface VmFanoutEnv {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: CoordinatorMetrics | undefined;
  readonly directory: AgentDirectory;
  readonly config: FanoutConfig;
  /** A progress event for the run's watchers. */
  readonly progress: (message: string) => void;
  /** An entry in the run's timeline. */
  readonly event: (kind: string, message: string) => void;
}

/** What the create and the delete do alike when an agent stops answering a chunk. */
function onStalled(run: Run, env: VmFanoutEnv): NonNullable<FanoutHooks['onStalled']> {
  return (host, outstanding, idleMs) => {
    env.metrics?.fanoutStalls.inc();
    env.logger.warn({ scenario: run.id, host, outstanding, idleMs, deadlineMs: env.config.progressDeadlineMs }, 'agent stalled: no result within the progress deadline; treated as lost');
    const message = `agent ${host} sent no result for ${Math.round(idleMs / 1000)} s with ${outstanding} VMs outstanding: treated as lost`;
    env.event('agent-stalled', message);
    env.progress(message);
  };
}

export async function fanOutCreates(run: Run, ctx: ScenarioContext, cp: ControlPlane, env: VmFanoutEnv): Promise<void> {
  const { plan, states } = run;
  const todo = plan.byHost((i) => states[i] === PENDING || states[i] === WAITING);
  const { metrics } = env;
  let pending: VmResultRow[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    env.store.recordResults(run.row.seq, pending);
    // Counted per burst, not per result: a labelled counter hashes its labels on every inc.
    if (metrics) {
      let ready = 0;
      for (const r of pending) if (r.phase === 'ready') ready++;
      if (ready > 0) metrics.vmResults.inc({ status: 'ready' }, ready);
      if (pending.length > ready) metrics.vmResults.inc({ status: 'failed' }, pending.length - ready);
    }
    pending = [];
    run.updatedAt = Date.now();
    env.progress('progress');
  };
  const flusher = setInterval(flush, FLUSH_MS);
  const acceptedAt = run.spec.acceptedAt;
  // The report reads what arrived, unless a control plane adds steps to the stored rows afterwards
  // (OVN) or the run was started by another coordinator (its earlier results are only stored).
  if (!run.resumed && !cp.vmSteps) run.live ??= new LiveResults(plan.total);
  try {
    await fanOut(
      [...todo].map(([h, indexes]) => ({
        host: plan.hosts[h]!,
        count: indexes.length,
        operations: (from, to) => {
          const ops: agentV1.VmOperation[] = new Array<agentV1.VmOperation>(to - from);
          for (let k = from; k < to; k++) ops[k - from] = createOperation(ctx, cp, plan.vm(indexes[k]!), run.resumed);
          return ops;
        },
        // The control plane's part of a chunk (OVN: its ports in the northbound database) before it goes out.
        ...(cp.prepareChunk ? {
          prepare: (from: number, to: number, attempt: number) => {
            const vms: PlannedVm[] = [];
            for (let k = from; k < to; k++) vms.push(plan.vm(indexes[k]!));
            return cp.prepareChunk!(ctx, vms, attempt);
          },
        } : {}),
      })),
      env.directory,
      {
        onResult: (_host, r) => {
          const i = plan.indexOf(r.id);
          if (i === undefined) {
            env.logger.warn({ scenario: run.id, vm: r.id }, 'a result for a VM this scenario does not have');
            return;
          }
          cp.observe?.(ctx, r);
          const ok = r.status === agentV1.VmStatus.VM_STATUS_READY;
          if (states[i] === READY && ok) return;
          run.move(i, ok ? READY : FAILED);
          const atMs = Date.now() - acceptedAt;
          pending.push({
            vmIndex: i, phase: ok ? 'ready' : 'failed', ip: ok ? r.ip : '', atMs, totalMicros: r.totalMicros, steps: stepsText(r.steps),
            errorCode: r.error?.code ?? '', errorStep: r.error?.step ?? '', errorMessage: r.error?.message ?? '',
          });
          run.live?.record(i, ok, atMs, r.totalMicros, r.steps, r.error);
          if (pending.length >= FLUSH_ROWS) flush();
        },
        onWaiting: (host, ops) => {
          let n = 0;
          for (const op of ops) {
            const i = plan.indexOf(op.op?.value.id ?? '');
            if (i !== undefined && states[i] === PENDING) {
              run.move(i, WAITING);
              n++;
            }
          }
          run.lostHosts.add(host);
          env.logger.warn({ scenario: run.id, host, vms: ops.length }, 'agent not connected: its VMs wait for it');
          if (n > 0) env.progress(`agent ${host} is lost: ${ops.length} VMs wait for it`);
        },
        onRetry: (host, attempt, missing, reason) => {
          metrics?.fanoutRetries.inc();
          env.logger.warn({ scenario: run.id, host, attempt, missing, reason }, 'retrying an agent');
        },
        onStalled: onStalled(run, env),
      },
      acceptedAt,
      env.config,
      run.abort.signal,
    );
  } finally {
    clearInterval(flusher);
    flush();
  }
}

function createOperation(ctx: ScenarioContext, cp: ControlPlane, vm: PlannedVm, maybeExists: boolean): agentV1.VmOperation {
  const spec = plannedVmSpec(ctx, vm);
  cp.decorate(ctx, vm, spec);
  return { op: { $case: 'create', value: spec }, startOffsetMs: Math.round(vm.startOffsetMs), ...(maybeExists ? { maybeExists } : {}) };
}

/** Deletes every VM of the plan not known deleted; returns what could not be deleted. */
export async function fanOutDeletes(run: Run, env: VmFanoutEnv): Promise<string[]> {
  const { plan } = run;
  const failures: string[] = [];
  // Every VM of the plan, made or not: an agent answers ABSENT for one it never had.
  const all = plan.byHost((i) => run.states[i] !== DELETED);
  await fanOut(
    [...all].map(([h, indexes]) => ({
      host: plan.hosts[h]!,
      count: indexes.length,
      operations: (from, to) => {
        const ops: agentV1.VmOperation[] = [];
        for (let k = from; k < to; k++) {
          const vm = plan.vm(indexes[k]!);
          ops.push({ op: { $case: 'delete', value: { id: vm.id, name: vm.name } }, startOffsetMs: 0 });
        }
        return ops;
      },
    })),
    env.directory,
    {
      onResult: (host, r) => {
        const i = plan.indexOf(r.id);
        if (i === undefined) return;
        if (r.status === agentV1.VmStatus.VM_STATUS_DELETED || r.status === agentV1.VmStatus.VM_STATUS_ABSENT) run.move(i, DELETED);
        else failures.push(`${r.id} on ${host}: ${r.error?.message ?? 'not deleted'}`);
      },
      onWaiting: (host, ops) => env.progress(`agent ${host} is lost: ${ops.length} VMs wait for it to be deleted`),
      onStalled: onStalled(run, env),
    },
    0,
    env.config,
    run.abort.signal,
  );
  return failures;
}
