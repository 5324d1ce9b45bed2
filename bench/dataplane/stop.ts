// Stopping a run and saying how it goes. SIGINT/SIGTERM stop the run: the watch is cancelled and the
// `finally` blocks tear the emulation down; a second signal exits at once (and says what is left).

export const stop: {
  /** The signal that stopped the run, once one came. */
  signal: NodeJS.Signals | undefined;
  /** Cancels the scenario's watch, while one runs. */
  watch: (() => void) | undefined;
  /** The folder of the emulation that is up, to say how to remove it. */
  liveDir: string | undefined;
} = { signal: undefined, watch: undefined, liveDir: undefined };

export function handleStopSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stop.signal !== undefined) {
        if (stop.liveDir) console.error(`bench: exiting; remove what is left with: npm run merak -- local down --local-dir ${stop.liveDir}`);
        process.exit(130);
      }
      stop.signal = sig;
      console.error(`bench: ${sig}, stopping and cleaning up…`);
      stop.watch?.();
    });
  }
}

export function throwIfStopped(): void {
  if (stop.signal !== undefined) throw new Error(`stopped by ${stop.signal}`);
}

const started = performance.now();
export function progress(line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}
