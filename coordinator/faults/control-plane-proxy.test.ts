import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneProxy } from './control-plane-proxy.js';

let upstream: Server;
let upstreamUrl: string;
let proxy: ControlPlaneProxy;
const seen: Array<{ method: string; url: string; body: string; host: string }> = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, host: req.headers.host ?? '' });
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(JSON.stringify({ echo: body, url: req.url }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/base`;
  proxy = await ControlPlaneProxy.start('127.0.0.1', 0, pino({ level: 'silent' }), { key: 'the-token' });
});

afterAll(async () => {
  await proxy.close();
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function call(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string; headers: Headers; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(url, { method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
  return { status: res.status, text: await res.text(), headers: res.headers, ms: Date.now() - t0 };
}

describe('control-plane proxy', () => {
  it('passes calls through untouched: method, path under the upstream base, query, body, status and headers', async () => {
    const base = proxy.urlFor('s1', upstreamUrl);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/s\/[A-Za-z0-9_.-]+$/);
    expect(proxy.urlFor('s1', upstreamUrl)).toBe(base);
    expect(proxy.urlFor('s2', upstreamUrl)).not.toBe(base);
    const r = await call(`${base}/project/p/ports?fields=id`, 'POST', '{"port":{"id":"a"}}');
    expect(r.status).toBe(201);
    expect(r.headers.get('x-upstream')).toBe('yes');
    expect(JSON.parse(r.text)).toEqual({ echo: '{"port":{"id":"a"}}', url: '/base/project/p/ports?fields=id' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/base/project/p/ports?fields=id', host: new URL(upstreamUrl).host });
    expect((await call(`${base.replace(/\/s\/.*/, '/s/nope')}/x`)).status).toBe(404);
  });

  it('routes only what its key signed, and a proxy started again with the same key takes the same URLs', async () => {
    const url = proxy.urlFor('s1', upstreamUrl);
    const [, route] = /\/s\/([^/]+)$/.exec(url)!;
    const [u, id] = route!.split('.');
    // Another upstream with the same signature: refused, nothing called.
    const forged = `${url.replace(/\/s\/.*/, '')}/s/${Buffer.from('http://127.0.0.1:1/').toString('base64url')}.${id}.${route!.split('.')[2]}`;
    const before = seen.length;
    expect((await call(`${forged}/x`)).status).toBe(404);
    expect(seen.length).toBe(before);
    expect(u).toBe(Buffer.from(upstreamUrl).toString('base64url'));
    const again = await ControlPlaneProxy.start('127.0.0.1', 0, pino({ level: 'silent' }), { key: 'the-token' });
    const other = await ControlPlaneProxy.start('127.0.0.1', 0, pino({ level: 'silent' }), { key: 'another' });
    try {
      const path = url.replace(/^http:\/\/[^/]+/, '');
      expect((await call(`${again.baseUrl}${path}/ports`)).status).toBe(200);
      expect((await call(`${other.baseUrl}${path}/ports`)).status).toBe(404);
    } finally {
      await again.close();
      await other.close();
    }
  });

  it("answers a scenario's calls with the fault's status at its rate, other scenarios untouched, and counts them", async () => {
    const a = proxy.urlFor('errors', upstreamUrl);
    const b = proxy.urlFor('other', upstreamUrl);
    proxy.set('errors', 0, { rate: 1, status: 503, delayMs: 0, seed: 1 });
    const before = seen.length;
    const r = await call(`${a}/ports/1`, 'PUT', '{}');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text)).toMatchObject({ status: 503, message: 'merak fault 0: control-plane-errors' });
    expect(seen.length).toBe(before);
    expect((await call(`${b}/ports/1`)).status).toBe(200);
    expect(proxy.lift('errors', 0)).toEqual({ calls: 1, hit: 1 });
    expect((await call(`${a}/ports/1`)).status).toBe(200);
  });

  it('hits a seeded fraction of the calls', async () => {
    const a = proxy.urlFor('half', upstreamUrl);
    proxy.set('half', 3, { rate: 0.5, status: 500, delayMs: 0, seed: 42 });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await call(`${a}/x`)).status);
    const { calls, hit } = proxy.lift('half', 3);
    expect(calls).toBe(40);
    expect(statuses.filter((s) => s === 500)).toHaveLength(hit);
    expect(hit).toBeGreaterThan(5);
    expect(hit).toBeLessThan(35);
  });

  it('holds a call back by the delay, then passes it on', async () => {
    const a = proxy.urlFor('slow', upstreamUrl);
    proxy.set('slow', 1, { rate: 1, status: 0, delayMs: 300, seed: 1 });
    const r = await call(`${a}/vpcs`);
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThanOrEqual(290);
    proxy.lift('slow', 1);
    expect((await call(`${a}/vpcs`)).ms).toBeLessThan(250);
  });
});
