import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonStream } from './json-stream.js';
import { OvsdbClient, OvsdbError, fromOvsMap, ovsMap, parseEndpoint, setMembers } from './ovsdb-client.js';

describe('JsonStream', () => {
  // Two replies as ovsdb-server writes them back to back, with braces and escapes inside strings.
  const text = '{"id":1,"result":[{"uuid":["uuid","2f1c"]},{"rows":[{"name":"a}b\\"{c"}]}],"error":null}{"id":null,"method":"echo","params":[]}';
  const bytes = Buffer.from(text);

  it('emits each whole value once, however the bytes are split', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2 += 7) {
        const s = new JsonStream();
        const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut, cut2)), ...s.push(bytes.subarray(cut2))];
        expect(out).toEqual([JSON.parse(text.slice(0, text.indexOf('}{') + 1)), { id: null, method: 'echo', params: [] }]);
      }
    }
  });

  it('keeps multi-byte UTF-8 split across chunks intact', () => {
    const b = Buffer.from('{"n":"vm-é€"}');
    const s = new JsonStream();
    expect([...s.push(b.subarray(0, 9)), ...s.push(b.subarray(9))]).toEqual([{ n: 'vm-é€' }]);
  });

  it('rejects unbalanced input', () => {
    expect(() => new JsonStream().push(Buffer.from('}'))).toThrow(SyntaxError);
  });
});

describe('OVSDB value encodings', () => {
  it('encodes and decodes maps and sets', () => {
    expect(ovsMap({ 'vm-id': 'a' })).toEqual(['map', [['vm-id', 'a']]]);
    expect(fromOvsMap(['map', [['k', 'v'], ['x', 'y']]])).toEqual({ k: 'v', x: 'y' });
    expect(setMembers(['set', [1, 2]])).toEqual([1, 2]);
    expect(setMembers(5)).toEqual([5]);
    expect(setMembers(['set', []])).toEqual([]);
  });
});

describe('OvsdbClient against a scripted server on a unix socket', () => {
  let server: Server | undefined;
  let dir = '';
  afterEach(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function serve(reply: (req: { id: number; method: string; params: unknown[] }) => unknown): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), 'merak-ovsdb-'));
    const path = join(dir, 'db.sock');
    server = createServer((c) => {
      const s = new JsonStream();
      c.on('data', (d: Buffer) => {
        for (const req of s.push(d) as { id: number; method: string; params: unknown[] }[]) {
          const body = JSON.stringify(reply(req));
          // Answer in two writes to exercise reassembly on the client.
          c.write(body.slice(0, 5));
          setTimeout(() => c.write(body.slice(5)), 2);
        }
      });
    });
    await new Promise<void>((r) => server!.listen(path, () => r()));
    return path;
  }

  it('turns a failed operation into an OvsdbError naming the operation, with OVSDB details', async () => {
    const path = await serve((req) => ({
      id: req.id,
      // As RFC 7047 §4.1.3: a result per executed operation, then the error.
      result: [{ uuid: ['uuid', 'x'] }, { error: 'constraint violation', details: 'Transaction causes multiple rows in "Interface" table to have identical values (p1) for index on column "name".' }],
      error: null,
    }));
    const client = await OvsdbClient.connect(path);
    const err = await client.transact([{ op: 'insert', table: 'Port', row: {} }, { op: 'insert', table: 'Interface', row: { name: 'p1' } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvsdbError);
    expect((err as Error).message).toMatch(/operation 1 \(insert Interface\): constraint violation: .*identical values \(p1\)/);
    client.close();
  });

  it('answers the server\'s echo requests, and rejects pending calls when the connection drops', async () => {
    dir = mkdtempSync(join(tmpdir(), 'merak-ovsdb-'));
    const path = join(dir, 'db.sock');
    const echoReply = new Promise<unknown>((resolve) => {
      server = createServer((c) => {
        const s = new JsonStream();
        // ovsdb-server probes idle clients with echo; the client must answer with the same params.
        c.write(JSON.stringify({ id: 'probe', method: 'echo', params: ['x'] }));
        c.on('data', (d: Buffer) => {
          for (const m of s.push(d) as { id: unknown; method?: string }[]) {
            if (m.id === 'probe') resolve(m);
            else if (m.method === 'transact') c.destroy();
          }
        });
      });
    });
    await new Promise<void>((r) => server!.listen(path, () => r()));
    const client = await OvsdbClient.connect(path);
    expect(await echoReply).toEqual({ id: 'probe', result: ['x'], error: null });
    await expect(client.transact([{ op: 'select', table: 'Bridge', where: [] }])).rejects.toThrow(/connection closed/);
    await expect(client.transact([])).rejects.toThrow(/closed/);
    await expect(OvsdbClient.connect(join(dir, 'missing.sock'), 500)).rejects.toThrow(/cannot connect to OVSDB/);
  });

  it('addresses the database it was opened for, over TCP as over a unix socket', async () => {
    const seen: unknown[] = [];
    server = createServer((c) => {
      const s = new JsonStream();
      c.on('data', (d: Buffer) => {
        for (const m of s.push(d) as { id: number; params: unknown[] }[]) {
          seen.push(m.params[0]);
          c.write(JSON.stringify({ id: m.id, result: [{ rows: [] }], error: null }));
        }
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as { port: number };
    const nb = await OvsdbClient.connect(`tcp:127.0.0.1:${port}`, { database: 'OVN_Northbound' });
    await nb.transact([{ op: 'select', table: 'Logical_Switch', where: [] }]);
    nb.close();
    expect(seen).toEqual(['OVN_Northbound']);
  });

  it('parses OVS-style endpoints and names a bad one', () => {
    expect(parseEndpoint('unix:/run/db.sock')).toEqual({ path: '/run/db.sock' });
    expect(parseEndpoint('/run/db.sock')).toEqual({ path: '/run/db.sock' });
    expect(parseEndpoint('tcp:10.0.0.2:6641')).toEqual({ host: '10.0.0.2', port: 6641 });
    expect(parseEndpoint('tcp:[::1]:6641')).toEqual({ host: '::1', port: 6641 });
    expect(() => parseEndpoint('tcp:10.0.0.2')).toThrow(/"tcp:10.0.0.2" is not tcp:HOST:PORT/);
    expect(() => parseEndpoint('unix:')).toThrow(OvsdbError);
  });
});
