// The Alcor client's retries against the Alcor-compatible server: transient failures (5xx, a
// dropped connection, a refused one) are tried again a bounded number of times with capped,
// growing waits, each retry reported and marked; a 4xx is not; a call that is not safe to repeat
// is sent once.
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorCall, AlcorError, AlcorHttp } from '@merak/common';
import { type RetryEvent, backoffMs } from '@merak/common';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';

let alcor: AlcorServer;
beforeAll(async () => {
  alcor = await startAlcorServer({ seed: 3 });
});
afterAll(async () => alcor?.close());
beforeEach(() => alcor.reset());

function client(retries = 3): { http: AlcorHttp; calls: AlcorCall[]; retries: RetryEvent[] } {
  const calls: AlcorCall[] = [];
  const seen: RetryEvent[] = [];
  return { http: new AlcorHttp({ timeoutMs: 1000, retries, baseMs: 10, maxDelayMs: 40, onCall: (c) => calls.push(c), onRetry: (r) => seen.push(r) }), calls, retries: seen };
}

const getNode = (http: AlcorHttp, base = alcor.urls.node) => http.call({ method: 'GET', base, path: '/nodes/n1', template: '/nodes/{node_id}', expect: [200], idempotent: true });

describe('AlcorHttp retries', () => {
  it('waits twice as long each time, never longer than the cap', () => {
    const policy = { retries: 5, baseMs: 100, maxDelayMs: 300 };
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(policy, 1)).toBeGreaterThanOrEqual(50);
      expect(backoffMs(policy, 1)).toBeLessThanOrEqual(100);
      expect(backoffMs(policy, 2)).toBeLessThanOrEqual(200);
      expect(backoffMs(policy, 5)).toBeLessThanOrEqual(300);
      expect(backoffMs(policy, 5)).toBeGreaterThanOrEqual(150);
    }
  });

  it('retries a 500 and a dropped connection, marking the repeats and reporting each retry', async () => {
    alcor.faults.add({ method: 'GET', action: { kind: 'status', status: 500 }, limit: { kind: 'first', n: 1 } });
    alcor.faults.add({ method: 'GET', action: { kind: 'drop' }, limit: { kind: 'first', n: 2 } });
    const { http, calls, retries } = client();
    expect((await getNode(http)).status).toBe(200);
    expect(calls.map((c) => [c.status, c.retry === true])).toEqual([[500, false], [0, true], [200, true]]);
    expect(retries.map((r) => [r.endpoint, r.attempt, r.status])).toEqual([['GET /nodes/{node_id}', 1, 500], ['GET /nodes/{node_id}', 2, 0]]);
  });

  it('gives up after its retries with the last failure, saying how many attempts it made', async () => {
    alcor.faults.add({ method: 'GET', action: { kind: 'status', status: 503, message: 'down (injected)' } });
    const { http, calls } = client(2);
    const err = await getNode(http).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlcorError);
    expect(err).toMatchObject({ status: 503, reason: expect.stringContaining('(after 3 attempts)') });
    expect(calls).toHaveLength(3);
  });

  it('retries a refused connection too (nothing listening)', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { http, calls } = client(1);
    const err = await getNode(http, `http://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, reason: expect.stringContaining('ECONNREFUSED') });
    expect(calls).toHaveLength(2);
  });

  it('does not retry a 4xx, nor a call that is not safe to repeat', async () => {
    alcor.faults.add({ method: 'GET', action: { kind: 'status', status: 409 } });
    const a = client();
    await expect(getNode(a.http)).rejects.toMatchObject({ status: 409 });
    expect(a.calls).toHaveLength(1);
    alcor.faults.clear();
    alcor.faults.add({ method: 'POST', action: { kind: 'status', status: 500 } });
    const b = client();
    await expect(b.http.call({ method: 'POST', base: alcor.urls.vpc, path: '/project/p/vpcs', template: '/project/{project_id}/vpcs', body: { network: {} }, expect: [201], idempotent: false }))
      .rejects.toMatchObject({ status: 500 });
    expect(b.calls).toHaveLength(1);
  });
});
