// How a program's main waits to be stopped: the first SIGTERM or SIGINT, then its own clean stop.

export type StopSignal = 'SIGTERM' | 'SIGINT';

/** Where the signals come from: the process; tests give an EventEmitter. */
export interface SignalSource {
  once(event: StopSignal, listener: () => void): unknown;
}

/** What shutdownOnSignal logs through (a pino logger fits). */
export interface ShutdownLogger {
  info(fields: { signal: StopSignal }, message: string): void;
  error(fields: { err: unknown }, message: string): void;
}

/**
 * Resolves with the first SIGTERM or SIGINT. Each listener is registered once, so the other
 * signal stays caught (not fatal) while the program shuts down.
 */
export function nextStopSignal(source: SignalSource = process): Promise<StopSignal> {
  return new Promise((resolve) => {
    source.once('SIGTERM', () => resolve('SIGTERM'));
    source.once('SIGINT', () => resolve('SIGINT'));
  });
}

/**
 * Waits for SIGTERM or SIGINT, logs `message` with the signal, then runs `stop`. Resolves once
 * `stop` settled; a failed stop is logged as an unclean shutdown, not thrown.
 */
export async function shutdownOnSignal(logger: ShutdownLogger, message: string, stop: () => Promise<void>, source: SignalSource = process): Promise<void> {
  const signal = await nextStopSignal(source);
  logger.info({ signal }, message);
  try {
    await stop();
  } catch (e) {
    logger.error({ err: e }, 'unclean shutdown');
  }
}
