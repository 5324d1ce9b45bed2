// The agent's plain-HTTP side: /healthz (alive), /readyz (OVSDB and netlink usable), /metrics.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { errorMessage } from '../errors.js';

/** A named readiness check; resolves when usable, throws with the reason otherwise. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

export function createHttpServer(registry: Registry, checks: readonly ReadinessCheck[]): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      void Promise.all(
        checks.map(async (c) => {
          try {
            await withTimeout(c.check(), 2000);
            return `${c.name}: ok`;
          } catch (e) {
            return `${c.name}: FAIL ${errorMessage(e)}`;
          }
        }),
      ).then((lines) => {
        const ok = lines.every((l) => !l.includes(': FAIL'));
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`);
      });
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(errorMessage(e)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}
