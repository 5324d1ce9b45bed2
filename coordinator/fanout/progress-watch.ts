// The progress deadline of one Apply: an agent that keeps its stream (and maybe its heartbeats)
// but sends no result for a chunk is stalled, and the fan-out treats it as lost. Progress is a
// result for the chunk. A VM cannot answer before it is due (its scheduled start), so the
// deadline counts from the later of the last result and the earliest start among the VMs still
// unanswered: VMs scheduled far in the future never make a chunk look stalled, and an agent that
// is slow but answers never is.
export interface ProgressWatchOptions {
  /** How long an outstanding chunk may go without a result. */
  readonly deadlineMs: number;
  /** The scenario's start on the agents' clock (0: the agent starts the VMs at once). */
  readonly startAtUnixMs: number;
  /** The start offsets (ms) of the operations sent and not answered yet (read only when the deadline is checked). */
  readonly outstanding: () => Iterable<number>;
  /** Called once, when the deadline passes without progress. */
  readonly onStall: (idleMs: number) => void;
  readonly now?: () => number;
}

export class ProgressWatch {
  private lastProgress: number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private stalled = false;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressWatchOptions) {
    this.now = opts.now ?? Date.now;
    this.lastProgress = this.now();
    this.arm(opts.deadlineMs);
  }

  /** The deadline passed without progress. */
  get fired(): boolean {
    return this.stalled;
  }

  /** A result arrived. Cheap: the timer is not touched, the next check sees the new time. */
  progress(): void {
    this.lastProgress = this.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }

  /** When the chunk has been without progress for too long (ms since the epoch). */
  private dueAt(): number {
    let earliest = Infinity;
    for (const offsetMs of this.opts.outstanding()) earliest = Math.min(earliest, this.opts.startAtUnixMs + offsetMs);
    // Nothing outstanding: the Apply only has to end; the last result counts.
    const from = earliest === Infinity ? this.lastProgress : Math.max(this.lastProgress, earliest);
    return from + this.opts.deadlineMs;
  }

  private arm(ms: number): void {
    // Capped so a far-future start does not overflow setTimeout (max ~24.8 days).
    this.timer = setTimeout(() => this.check(), Math.min(Math.max(ms, 1), 2 ** 31 - 1));
  }

  private check(confirming = false): void {
    this.timer = undefined;
    const now = this.now();
    const due = this.dueAt();
    if (now < due) return this.arm(due - now);
    // Timers run before the I/O that waited while the process was busy: results may sit unread in
    // the socket. Judge again once they are read (setImmediate runs after the poll phase).
    if (!confirming) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.check(true);
      });
      return;
    }
    this.stalled = true;
    this.opts.onStall(now - this.lastProgress);
  }
}
