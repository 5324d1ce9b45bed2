// The standalone server as a user runs it: `node test/dist/alcor/main.js` (built by `tsc -b`,
// which `npm test` runs first). It starts, says where it listens, answers, logs each call as one
// JSON line, serves the control endpoint, and stops cleanly on SIGTERM.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { http } from './test-http.js';

const MAIN = fileURLToPath(new URL('../dist/alcor/main.js', import.meta.url));
const started: ChildProcess[] = [];

function requireBuilt(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b; npm test does it)`);
}

interface Running { readonly child: ChildProcess; readonly lines: Array<Record<string, unknown>>; readonly urls: Record<string, string> }

/** Starts the server and waits for its "listening" line. */
function start(args: string[]): Promise<Running> {
  requireBuilt();
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffer += c.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.msg === 'listening') resolve({ child, lines, urls: line.urls as Record<string, string> });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

afterEach(async () => {
  // Only the processes this file started, by their handle (never by name).
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
});

describe('standalone CLI', () => {
  it('--help explains the modes and the control endpoint and exits 0; a bad flag exits 2', () => {
    requireBuilt();
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const text of ['--node-ports', '--base-port', '--port', '--host', '30006', '/_merak/faults', 'SG 30008']) expect(help.stdout).toContain(text);
    const bad = spawnSync(process.execPath, [MAIN, '--port', 'x'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--port: 'x' is not a port number");
  });

  it('runs on the NodePort layout, answers, logs one JSON line per call, and stops on SIGTERM', async () => {
    const { child, lines, urls } = await start(['--node-ports', '--base-port', '0', '--seed', '5', '--ncm-port', '0']);
    expect(Object.keys(urls).sort()).toEqual(['node', 'port', 'route', 'sg', 'subnet', 'vpc']);
    const r = await http('POST', `${urls.node}/nodes/bulk`, { body: { host_infos: [{ node_id: 'n1', node_name: 'vhost-0', local_ip: '10.0.0.5' }] } });
    expect(r.status).toBe(200);
    expect((await http('GET', `${urls.vpc}/nodes`)).status).toBe(404); // the VPC listener has no /nodes
    const state = await http('GET', `${urls.sg}/_merak/state`);
    expect((state.json as { nodes: Array<{ node_name: string }> }).nodes.map((n) => n.node_name)).toEqual(['vhost-0']);
    await expect.poll(() => lines.filter((l) => l.msg === 'call').length).toBe(2);
    expect(lines.filter((l) => l.msg === 'call').map((l) => [l.service, l.method, l.path, l.status])).toEqual([
      ['node', 'POST', '/nodes/bulk', 200],
      [undefined, 'GET', '/nodes', 404],
    ]);
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(lines.at(-1)).toMatchObject({ msg: 'shutting down', signal: 'SIGTERM' });
    await expect(http('GET', `${urls.node}/nodes`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('runs on one port with --port 0 and takes fault rules over the control endpoint', async () => {
    const { child, urls } = await start(['--port', '0', '--ncm-port', '0']);
    expect(new Set(Object.values(urls)).size).toBe(1);
    const base = urls.vpc!;
    expect((await http('POST', `${base}/_merak/faults`, { body: { path: '/nodes', action: { kind: 'status', status: 503 } } })).status).toBe(201);
    expect((await http('GET', `${base}/nodes`)).status).toBe(503);
    child.kill('SIGTERM');
    expect((await exited(child)).code).toBe(0);
  });
});
