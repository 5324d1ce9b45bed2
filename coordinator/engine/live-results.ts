// A run's latest result per VM, kept as the results arrive, so its report needs no million rows
// read back from the store, sorted and parsed (half of the report's cost at a million VMs). Numbers
// live in typed arrays, step names in a small table: nothing here is an object per VM for the
// collector to trace or copy. Rows come out as the store gives them (VM index order, each VM's
// latest result, `atMs` rounded as stored), so the report is the same either way.
import type { agentV1 } from '@merak/proto';
import type { ReportRow, StepTimes } from '../report/report.js';

const NONE = 0;
const READY = 1;
const FAILED = 2;

/** A failed VM's error (failures are few; kept per VM, not per column). */
interface ErrorOf {
  readonly code: string;
  readonly step: string;
  readonly message: string;
}

/** Growable columns of every step of every result: its name's number and its microseconds. */
class StepColumns {
  name = new Uint16Array(1024);
  micros = new Float64Array(1024);
  used = 0;

  reserve(n: number): number {
    const at = this.used;
    if (at + n > this.name.length) {
      let size = this.name.length * 2;
      while (size < at + n) size *= 2;
      const name = new Uint16Array(size);
      name.set(this.name);
      const micros = new Float64Array(size);
      micros.set(this.micros);
      this.name = name;
      this.micros = micros;
    }
    this.used += n;
    return at;
  }
}

/** Past this many distinct step names a run's results are left to the store (LiveResults.usable). */
const MAX_STEP_NAMES = 65_535;

export class LiveResults {
  private readonly phase: Uint8Array;
  private readonly atMs: Float64Array;
  private readonly totalMicros: Float64Array;
  private readonly stepsFrom: Uint32Array;
  private readonly stepsCount: Uint16Array;
  private readonly steps = new StepColumns();
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly errors = new Map<number, ErrorOf>();
  private overflow = false;

  constructor(readonly total: number) {
    this.phase = new Uint8Array(total);
    this.atMs = new Float64Array(total);
    this.totalMicros = new Float64Array(total);
    this.stepsFrom = new Uint32Array(total);
    this.stepsCount = new Uint16Array(total);
  }

  /** False once a result did not fit (too many step names or steps): the store then has the whole story. */
  get usable(): boolean {
    return !this.overflow;
  }

  /** VM `i`'s result, superseding any earlier one (as the store's latest row does). `atMs` as recorded. */
  record(i: number, ready: boolean, atMs: number, totalMicros: number, steps: readonly agentV1.StepTiming[], error: agentV1.VmError | undefined): void {
    if (steps.length > 0xffff) {
      this.overflow = true;
      return;
    }
    this.phase[i] = ready ? READY : FAILED;
    // Stored rounded (an INTEGER column): the same here.
    this.atMs[i] = Math.round(atMs);
    this.totalMicros[i] = totalMicros;
    const at = this.steps.reserve(steps.length);
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k]!;
      let id = this.nameIds.get(s.step);
      if (id === undefined) {
        if (this.names.length >= MAX_STEP_NAMES) {
          this.overflow = true;
          return;
        }
        id = this.names.push(s.step) - 1;
        this.nameIds.set(s.step, id);
      }
      this.steps.name[at + k] = id;
      this.steps.micros[at + k] = s.micros;
    }
    this.stepsFrom[i] = at;
    this.stepsCount[i] = steps.length;
    if (ready) this.errors.delete(i);
    else this.errors.set(i, { code: error?.code ?? '', step: error?.step ?? '', message: error?.message ?? '' });
  }

  /**
   * Every VM with a result, in VM index order, as the store's rows. One row object is reused
   * (the report reads each before asking for the next).
   */
  *rows(): Generator<ReportRow> {
    const names: string[] = [];
    const micros: number[] = [];
    const stepTimes: { names: string[]; micros: number[]; count: number } = { names, micros, count: 0 };
    const row = { vmIndex: 0, phase: 'ready' as ReportRow['phase'], atMs: 0, totalMicros: 0, steps: stepTimes as StepTimes, errorCode: '', errorStep: '', errorMessage: '' };
    for (let i = 0; i < this.total; i++) {
      const p = this.phase[i]!;
      if (p === NONE) continue;
      const from = this.stepsFrom[i]!;
      const n = this.stepsCount[i]!;
      for (let k = 0; k < n; k++) {
        names[k] = this.names[this.steps.name[from + k]!]!;
        micros[k] = this.steps.micros[from + k]!;
      }
      stepTimes.count = n;
      const e = p === FAILED ? this.errors.get(i) : undefined;
      row.vmIndex = i;
      row.phase = p === READY ? 'ready' : 'failed';
      row.atMs = this.atMs[i]!;
      row.totalMicros = this.totalMicros[i]!;
      row.errorCode = e?.code ?? '';
      row.errorStep = e?.step ?? '';
      row.errorMessage = e?.message ?? '';
      yield row;
    }
  }
}
