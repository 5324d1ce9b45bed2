// What every part of the soak works on: the emulation's folder and prefix, its coordinator client,
// the Alcor-compatible server, the options, and how to say progress.
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import type { AlcorServer } from '../../test/alcor/index.js';
import type { SoakModules } from './modules.js';
import type { SoakOptions } from './options.js';

export interface Soak {
  readonly o: SoakOptions;
  readonly m: SoakModules;
  /** The local emulation's folder (`local up --local-dir`). */
  readonly dir: string;
  readonly prefix: string;
  readonly alcor: AlcorServer;
  client: CoordinatorClient;
  readonly log: (line: string) => void;
  /** Aborted by SIGINT/SIGTERM: every wait of the soak ends, and nothing new is started. */
  readonly stop: AbortSignal;
}

/** Throws the stop's reason once a signal came (before any step that makes or starts something). */
export function throwIfStopped(s: Soak): void {
  if (s.stop.aborted) throw s.stop.reason instanceof Error ? s.stop.reason : new SoakError('stopped');
}

/** A step of the soak that could not be done (a fault not injectable, a heal that failed). */
export class SoakError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoakError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
