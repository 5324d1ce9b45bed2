// The Alcor-compatible server as the Alcor demo runs it: a child process that says where it
// listens, answers there, is recorded, and is stopped by its owner or, when that owner died, by
// whoever reads the record (`merak local down`).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AlcorServerProcess, alcorServerMainPath, startAlcorServerProcess, stopRecordedAlcorServer } from './alcor-server-process.js';
import { isRunning, recordOf } from './process-record.js';

let dir = '';
let server: AlcorServerProcess | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<AlcorServerProcess> {
  dir = mkdtempSync(join(tmpdir(), 'merak-alcor-proc-'));
  expect(existsSync(alcorServerMainPath())).toBe(true);
  server = await startAlcorServerProcess({ host: '127.0.0.1', ncmPort: 0, seed: 1, logFile: join(dir, 'alcor.log'), recordFile: join(dir, 'alcor-server.json') });
  return server;
}

describe('the Alcor-compatible server as a child process', () => {
  it('says where it listens, answers there, and is gone with its record once stopped', async () => {
    const s = await start();
    expect(s.urls.port).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(Object.values(s.urls)).size).toBe(1);
    const state = await fetch(`${s.urls.node}/_merak/state`);
    expect(state.status).toBe(200);
    expect(await state.json()).toMatchObject({ nodes: [], ports: [] });
    const record = JSON.parse(readFileSync(join(dir, 'alcor-server.json'), 'utf8')) as { pid: number };
    expect(record.pid).toBe(s.pid);
    await s.stop();
    expect(recordOf(s.pid) === undefined || !isRunning(recordOf(s.pid)!)).toBe(true);
    expect(existsSync(join(dir, 'alcor-server.json'))).toBe(false);
  });

  it('is stopped from its record when its owner could not (local down)', async () => {
    const s = await start();
    const record = recordOf(s.pid)!;
    expect(await stopRecordedAlcorServer(join(dir, 'alcor-server.json'))).toEqual({ what: `Alcor-compatible server (pid ${s.pid})`, how: 'terminated' });
    expect(isRunning(record)).toBe(false);
    expect(existsSync(join(dir, 'alcor-server.json'))).toBe(false);
    expect(await stopRecordedAlcorServer(join(dir, 'alcor-server.json'))).toBeUndefined();
  });
});
