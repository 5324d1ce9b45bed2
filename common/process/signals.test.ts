import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type ShutdownLogger, nextStopSignal, shutdownOnSignal } from './signals.js';

function recorder(): ShutdownLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (fields, message) => void lines.push(`info ${fields.signal} ${message}`),
    error: (fields, message) => void lines.push(`error ${String(fields.err)} ${message}`),
  };
}

describe('signals', () => {
  it('nextStopSignal resolves with the first of SIGTERM and SIGINT and keeps the other caught once', async () => {
    const source = new EventEmitter();
    const next = nextStopSignal(source);
    source.emit('SIGINT');
    await expect(next).resolves.toBe('SIGINT');
    expect(source.listenerCount('SIGINT')).toBe(0);
    expect(source.listenerCount('SIGTERM')).toBe(1);
  });

  it('shutdownOnSignal logs the signal, runs stop and resolves once it settled', async () => {
    const source = new EventEmitter();
    const log = recorder();
    let stopped = false;
    const done = shutdownOnSignal(log, 'shutting down', async () => { stopped = true; }, source);
    source.emit('SIGTERM');
    await done;
    expect(stopped).toBe(true);
    expect(log.lines).toEqual(['info SIGTERM shutting down']);
  });

  it('shutdownOnSignal logs a failed stop as unclean and still resolves', async () => {
    const source = new EventEmitter();
    const log = recorder();
    const done = shutdownOnSignal(log, 'bye', () => Promise.reject(new Error('stuck')), source);
    source.emit('SIGINT');
    await expect(done).resolves.toBeUndefined();
    expect(log.lines).toEqual(['info SIGINT bye', 'error Error: stuck unclean shutdown']);
  });
});
