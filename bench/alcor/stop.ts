// Stopping a run and saying how it goes. SIGINT/SIGTERM stop the run at the next port; the
// `finally` blocks close the server and stop the fleet child. A second signal kills the fleet
// children by their PID and exits at once.
import { performance } from 'node:perf_hooks';
import { liveFleets } from './fleet-client.js';

let signal: NodeJS.Signals | undefined;

export function stopped(): boolean {
  return signal !== undefined;
}

export class StoppedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
    this.name = 'StoppedError';
  }
}

export function throwIfStopped(): void {
  if (signal !== undefined) throw new StoppedError(signal);
}

export function handleStopSignals(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (signal !== undefined) {
        for (const child of liveFleets) child.kill('SIGKILL');
        process.exit(130);
      }
      signal = sig;
      console.error(`bench: ${sig}, stopping and cleaning up…`);
    });
  }
}

const started = performance.now();
export function progress(line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}
