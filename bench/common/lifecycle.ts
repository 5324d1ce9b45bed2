// A bench process's life, the same for every bench: its main keeps the event loop open until its
// cleanup is done, an error thrown outside main stops the run the way SIGTERM does (so the bench's
// own `finally` blocks still tear down), and what main throws is printed with exit code 1.
//
// Why the hold: the OVS daemons and agents a bench starts are unreferenced children (they may
// outlive the launcher). Awaiting such a child's exit after its grace timer sent SIGKILL leaves
// Node nothing referenced to wait for, so it exits at once with code 0, skipping every `finally`:
// `bench:agent --vms 1000` (agent way only) left its ovsdb-server, namespace and folder that way
// when the agent took longer than its grace to stop.
import { errorMessage } from '@merak/common';

/** Holds the event loop open until the returned function is called. */
export function holdEventLoop(): () => void {
  const timer = setInterval(() => undefined, 1 << 30);
  return () => clearInterval(timer);
}

/** Runs a bench's main to its end (cleanup included): see the top of this file. */
export function runBenchMain(main: () => Promise<void>): void {
  const release = holdEventLoop();
  let fatal = false;
  let ended = false;
  process.on('uncaughtException', (e: unknown) => {
    console.error(`bench: error outside the run: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
    // Once main has ended (its cleanup done), work it abandoned may still fail: only said.
    if (fatal || ended) return;
    fatal = true;
    // The bench's stop path (a SIGTERM handler) ends the run and cleans up.
    process.kill(process.pid, 'SIGTERM');
  });
  main()
    .catch((e: unknown) => {
      console.error(`bench: ${errorMessage(e)}`);
      process.exitCode = 1;
    })
    .finally(() => {
      ended = true;
      release();
    });
}

export class BenchStoppedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
    this.name = 'BenchStoppedError';
  }
}

/**
 * SIGINT/SIGTERM for the benches that have no stop module of their own: the first aborts
 * `stopSignal` (steps in flight end early, the `finally` blocks clean up); a second exits at once
 * after `onHardExit` (say what is left).
 */
export class StopOnSignals {
  private readonly controller = new AbortController();
  private by: NodeJS.Signals | undefined;

  constructor(onHardExit: () => void = () => undefined) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        if (this.by !== undefined) {
          onHardExit();
          process.exit(130);
        }
        this.by = sig;
        console.error(`bench: ${sig}, stopping and cleaning up… (again to exit at once)`);
        this.controller.abort(new BenchStoppedError(sig));
      });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.by !== undefined;
  }

  throwIfStopped(): void {
    if (this.by !== undefined) throw new BenchStoppedError(this.by);
  }

  /** `work`, or BenchStoppedError as soon as a signal comes (the work goes on unawaited). */
  race<T>(work: Promise<T>): Promise<T> {
    this.throwIfStopped();
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.controller.signal.reason);
      this.controller.signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => this.controller.signal.removeEventListener('abort', onAbort));
    });
  }

  /** A sleep that a signal cuts short (with BenchStoppedError). */
  sleep(ms: number): Promise<void> {
    return this.race(new Promise((r) => setTimeout(r, ms)));
  }
}
