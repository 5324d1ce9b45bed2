// A VM is built by small named stages, each with an undo. runStages times every stage and, when
// one fails, undoes the finished ones in reverse order (timed too), then rethrows as a VmFailure.
import { MerakError, type MerakErrorCode, errorMessage } from '@merak/common';

export interface StepTiming {
  readonly step: string;
  readonly micros: number;
}

/** A call to the control plane made for a VM (Alcor): what the report counts per endpoint. */
export interface ApiCall {
  readonly endpoint: string;
  readonly micros: number;
  readonly status: number;
  readonly error: string;
}

/** Collects the duration of each step of one VM, in the order they ran, and its control-plane calls. */
export class StepTimer {
  readonly steps: StepTiming[] = [];
  readonly calls: ApiCall[] = [];
  readonly onCall = (c: ApiCall): void => {
    this.calls.push(c);
  };
  private readonly started = process.hrtime.bigint();

  async time<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.steps.push({ step, micros: Number((process.hrtime.bigint() - t0) / 1000n) });
    }
  }

  /** A step measured by other means (e.g. between two wall-clock instants), in microseconds. */
  record(step: string, micros: number): void {
    this.steps.push({ step, micros: Math.max(0, Math.round(micros)) });
  }

  totalMicros(): number {
    return Number((process.hrtime.bigint() - this.started) / 1000n);
  }
}

export interface Stage<C> {
  readonly name: string;
  /** The stage records its own steps on the timer (its parts are timed apart), not one under its name. */
  readonly selfTimed?: boolean;
  run(ctx: C): Promise<void>;
  undo?(ctx: C): Promise<void>;
}

/** A VM that failed at `step`; what was made for it has been undone (or `undoErrors` says why not). */
export class VmFailure extends MerakError {
  readonly step: string;
  readonly undoErrors: readonly string[];
  constructor(code: MerakErrorCode, step: string, message: string, options: { cause?: unknown; undoErrors?: string[] } = {}) {
    super(code, message, { cause: options.cause, context: { step } });
    this.step = step;
    this.undoErrors = options.undoErrors ?? [];
  }
}

/** The stable code of whatever a stage threw. */
export function codeOf(e: unknown): MerakErrorCode {
  return e instanceof MerakError ? e.code : 'INTERNAL';
}

export async function runStages<C>(stages: readonly Stage<C>[], ctx: C, timer: StepTimer): Promise<void> {
  const done: Stage<C>[] = [];
  for (const stage of stages) {
    try {
      if (stage.selfTimed) await stage.run(ctx);
      else await timer.time(stage.name, () => stage.run(ctx));
      done.push(stage);
    } catch (e) {
      const undoErrors: string[] = [];
      for (const finished of done.reverse()) {
        if (!finished.undo) continue;
        try {
          await timer.time(`undo:${finished.name}`, () => finished.undo!(ctx));
        } catch (u) {
          undoErrors.push(`undo ${finished.name}: ${errorMessage(u)}`);
        }
      }
      const suffix = undoErrors.length > 0 ? ` (rollback incomplete: ${undoErrors.join('; ')})` : '';
      // A stage that waits for an earlier one's work (ready waits for attach) may name that one.
      const step = e instanceof VmFailure ? e.step : stage.name;
      throw new VmFailure(codeOf(e), step, `${step}: ${errorMessage(e)}${suffix}`, { cause: e, undoErrors });
    }
  }
}
