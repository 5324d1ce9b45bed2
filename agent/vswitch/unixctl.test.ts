// UnixctlClient against a fake control socket: framing, matching by id, typed failures.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MerakError } from '@merak/common';
import { JsonStream } from '@merak/common';
import { UnixctlClient, UnixctlConnectionError, UnixctlError, UnixctlTimeoutError, VswitchdControlNotFoundError, vswitchdControlPath } from './unixctl.js';

interface Request {
  id: number;
  method: string;
  params: string[];
}

let dir: string;
let path: string;
const servers: Server[] = [];
const clients: UnixctlClient[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'merak-unixctl-'));
  path = join(dir, 'fake.ctl');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

/** A control socket that hands every decoded request to `onRequest`. */
async function fakeServer(onRequest: (req: Request, sock: Socket) => void): Promise<void> {
  const server = createServer((sock) => {
    const stream = new JsonStream();
    sock.on('data', (chunk: Buffer) => {
      for (const r of stream.push(chunk)) onRequest(r as Request, sock);
    });
    sock.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
}

async function connect(timeoutMs = 2000): Promise<UnixctlClient> {
  const c = await UnixctlClient.connect(path, { timeoutMs });
  clients.push(c);
  return c;
}

const ok = (id: number, text: string): string => JSON.stringify({ id, result: text, error: null });
const tick = (ms = 1): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('UnixctlClient', () => {
  it('sends what ovs-appctl sends and resolves with the result text', async () => {
    const seen: string[] = [];
    await fakeServer((req, sock) => {
      seen.push(JSON.stringify(req));
      sock.write(ok(req.id, 'OK\n'));
    });
    const c = await connect();
    await expect(c.call('tnl/neigh/set', ['br-phy', '198.51.100.3', 'aa:bb:cc:dd:ee:ff'])).resolves.toBe('OK\n');
    expect(seen).toEqual(['{"id":1,"method":"tnl/neigh/set","params":["br-phy","198.51.100.3","aa:bb:cc:dd:ee:ff"]}']);
  });

  it('matches replies to calls by id when several are in flight and answered out of order', async () => {
    const held: Request[] = [];
    await fakeServer((req, sock) => {
      held.push(req);
      if (held.length < 3) return;
      for (const r of held.reverse()) sock.write(ok(r.id, `${r.method} ${r.params.join(',')}\n`));
    });
    const c = await connect();
    const results = await Promise.all([c.call('a', ['1']), c.call('b', []), c.call('c', ['x', 'y'])]);
    expect(results).toEqual(['a 1\n', 'b \n', 'c x,y\n']);
  });

  it('reads a reply split at every byte offset, and replies that share one read', async () => {
    // Braces, quotes, escapes and multi-byte characters inside the string must not end the value early.
    const text = 'IP  MAC  {"x": [1]} \\ é ✓\n';
    let split = 0;
    await fakeServer((req, sock) => {
      if (req.method === 'other') return; // answered together with 'pair'
      const bytes = Buffer.from(ok(req.id, text));
      if (req.method === 'pair') {
        sock.write(Buffer.concat([bytes, Buffer.from(ok(req.id + 1, 'second'))]));
        return;
      }
      const at = split;
      sock.write(bytes.subarray(0, at));
      setTimeout(() => sock.write(bytes.subarray(at)), 1);
    });
    const c = await connect();
    const length = Buffer.byteLength(ok(1, text));
    for (split = 0; split <= length; split++) expect(await c.call('show', [])).toBe(text);
    // Two calls, both replies in one write.
    const [first, second] = await Promise.all([c.call('pair', []), c.call('other', [])]);
    expect(first).toBe(text);
    expect(second).toBe('second');
  });

  it('turns an error reply into UnixctlError with method, params and the text', async () => {
    await fakeServer((req, sock) => {
      // The shape OVS 3.1 sends: no result key, the text ends in a newline.
      sock.write(JSON.stringify({ id: req.id, error: 'bad MAC address\n' }));
    });
    const c = await connect();
    const e = await c.call('tnl/neigh/set', ['br-phy', '198.51.100.3', 'zz']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnixctlError);
    expect(e).toBeInstanceOf(MerakError);
    const u = e as UnixctlError;
    expect(u.code).toBe('OVSDB');
    expect(u.method).toBe('tnl/neigh/set');
    expect(u.params).toEqual(['br-phy', '198.51.100.3', 'zz']);
    expect(u.text).toBe('bad MAC address');
    expect(u.path).toBe(path);
    expect(u.stack).toContain('for call at');
    // The connection stays usable after an error reply.
    await expect(c.call('again', [])).rejects.toBeInstanceOf(UnixctlError);
  });

  it('rejects every pending call when the daemon closes the connection', async () => {
    let received = 0;
    await fakeServer((_req, sock) => {
      if (++received === 2) sock.destroy();
    });
    const c = await connect();
    const errors = await Promise.all([c.call('first', []), c.call('second', [])].map((p) => p.catch((x: unknown) => x)));
    for (const [i, e] of errors.entries()) {
      expect(e).toBeInstanceOf(UnixctlConnectionError);
      const u = e as UnixctlConnectionError;
      expect(u.code).toBe('UNAVAILABLE');
      expect(u.reason).toBe('closed');
      expect(u.path).toBe(path);
      expect(u.message).toContain(path);
      expect(u.message).toContain(i === 0 ? 'first' : 'second');
    }
    await expect(c.call('after', [])).rejects.toMatchObject({ reason: 'closed' });
  });

  it('rejects pending calls on close()', async () => {
    await fakeServer(() => undefined);
    const c = await connect();
    const pending = c.call('never', []).catch((x: unknown) => x);
    await tick(5);
    c.close();
    expect(await pending).toMatchObject({ reason: 'closed' });
    expect(await pending).toBeInstanceOf(UnixctlConnectionError);
  });

  it('times a call out without losing the connection, and drops the late reply', async () => {
    await fakeServer((req, sock) => {
      if (req.method === 'slow') setTimeout(() => sock.write(ok(req.id, 'late')), 500);
      else sock.write(ok(req.id, 'fast'));
    });
    const c = await connect(250);
    const e = await c.call('slow', []).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnixctlTimeoutError);
    expect(e).toMatchObject({ code: 'TIMEOUT', method: 'slow', path });
    await tick(400); // the late reply has arrived and been dropped
    await expect(c.call('quick', [])).resolves.toBe('fast');
  });

  it('fails pending calls with a protocol error on an undecodable reply', async () => {
    await fakeServer((_req, sock) => sock.write('}'));
    const c = await connect();
    await expect(c.call('x', [])).rejects.toMatchObject({ reason: 'protocol', code: 'UNAVAILABLE' });
  });

  it('names the socket path when it does not exist', async () => {
    const missing = join(dir, 'missing.ctl');
    const e = await UnixctlClient.connect(missing, { timeoutMs: 1000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnixctlConnectionError);
    expect(e).toMatchObject({ reason: 'connect', errno: 'ENOENT', path: missing, code: 'UNAVAILABLE' });
    expect((e as Error).message).toContain(missing);
  });
});

describe('vswitchdControlPath', () => {
  it('prefers <rundir>/ovs-vswitchd.ctl', () => {
    writeFileSync(join(dir, 'ovs-vswitchd.ctl'), '');
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '4242\n');
    writeFileSync(join(dir, 'ovs-vswitchd.4242.ctl'), '');
    expect(vswitchdControlPath(dir)).toBe(join(dir, 'ovs-vswitchd.ctl'));
  });

  it('falls back to the pid-named socket (Debian layout)', () => {
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '4242\n');
    writeFileSync(join(dir, 'ovs-vswitchd.4242.ctl'), '');
    expect(vswitchdControlPath(dir)).toBe(join(dir, 'ovs-vswitchd.4242.ctl'));
  });

  it('names both paths tried when neither exists', () => {
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '4242\n');
    const e = ((): unknown => { try { return vswitchdControlPath(dir); } catch (x) { return x; } })();
    expect(e).toBeInstanceOf(VswitchdControlNotFoundError);
    const tried = [join(dir, 'ovs-vswitchd.ctl'), join(dir, 'ovs-vswitchd.4242.ctl')];
    expect(e).toMatchObject({ tried, code: 'UNAVAILABLE', rundir: dir });
    for (const p of tried) expect((e as Error).message).toContain(p);
  });

  it('names the pid file when there is none', () => {
    expect(() => vswitchdControlPath(dir)).toThrow(join(dir, 'ovs-vswitchd.pid'));
    expect(() => vswitchdControlPath(dir)).toThrow(VswitchdControlNotFoundError);
  });
});
