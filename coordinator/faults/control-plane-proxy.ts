// The small HTTP proxy the coordinator puts between the agents and an HTTP control plane (Alcor,
// or any other) for the control-plane faults: a scenario with such faults gives its agents a proxy
// URL in place of the control plane's (/s/<token>/… stands for <upstream>/…), and while a fault
// lasts, a seeded fraction of the calls is answered with its error status, or held back its delay
// before it goes on. Everything else passes through as it is, streamed both ways.
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { MerakError, errorMessage } from '@merak/common';
import type { Logger } from 'pino';
import { mulberry32 } from '../plan/index.js';
import type { ControlPlaneFaultSink } from './fault-injector.js';

export interface ProxyRule {
  readonly rate: number;
  readonly status: number;
  readonly delayMs: number;
  readonly seed: number;
}

interface ActiveRule extends ProxyRule {
  readonly random: () => number;
  calls: number;
  hit: number;
}

/** The proxy could not listen where it was told. */
export class FaultProxyListenError extends MerakError {
  constructor(address: string, cause: unknown) {
    super('UNAVAILABLE', `control-plane proxy: cannot listen on ${address}: ${errorMessage(cause)}`, { cause, context: { address } });
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

export class ControlPlaneProxy implements ControlPlaneFaultSink {
  private readonly routes = new Map<string, { scenarioId: string; upstream: URL }>();
  private readonly rules = new Map<string, Map<number, ActiveRule>>();

  private constructor(private readonly server: Server, readonly baseUrl: string, private readonly logger: Logger) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        this.logger.warn({ err: errorMessage(e), url: req.url }, 'control-plane proxy: call failed');
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 502, error: 'Bad Gateway', message: `merak control-plane proxy: ${errorMessage(e)}` }));
      });
    });
  }

  /**
   * Listens on `host:port` (port 0: any free one); `advertise` is the base URL the agents are
   * given (default http://host:port, which must then be an address they reach).
   */
  static async start(host: string, port: number, logger: Logger, advertise?: string): Promise<ControlPlaneProxy> {
    const server = createServer({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new FaultProxyListenError(`${host}:${port}`, e)));
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    const base = (advertise ?? `http://${host.includes(':') ? `[${host}]` : host}:${bound}`).replace(/\/+$/, '');
    logger.info({ listen: `${host}:${bound}`, url: base }, 'control-plane proxy ready');
    return new ControlPlaneProxy(server, base, logger);
  }

  /** The URL scenario `scenarioId`'s agents are given in place of `upstream`. */
  urlFor(scenarioId: string, upstream: string): string {
    for (const [token, r] of this.routes) if (r.scenarioId === scenarioId && r.upstream.href === new URL(upstream).href) return `${this.baseUrl}/s/${token}`;
    const token = randomBytes(9).toString('base64url');
    this.routes.set(token, { scenarioId, upstream: new URL(upstream) });
    return `${this.baseUrl}/s/${token}`;
  }

  set(scenarioId: string, fault: number, rule: ProxyRule): void {
    const rules = this.rules.get(scenarioId) ?? new Map<number, ActiveRule>();
    rules.set(fault, { ...rule, random: mulberry32(rule.seed), calls: 0, hit: 0 });
    this.rules.set(scenarioId, rules);
  }

  lift(scenarioId: string, fault: number): { calls: number; hit: number } {
    const rules = this.rules.get(scenarioId);
    const r = rules?.get(fault);
    rules?.delete(fault);
    if (rules?.size === 0) this.rules.delete(scenarioId);
    return { calls: r?.calls ?? 0, hit: r?.hit ?? 0 };
  }

  /** Forgets a scenario's routes (it was deleted). */
  forget(scenarioId: string): void {
    for (const [token, r] of this.routes) if (r.scenarioId === scenarioId) this.routes.delete(token);
    this.rules.delete(scenarioId);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/s\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(req.url ?? '');
    const route = m ? this.routes.get(m[1]!) : undefined;
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 404, error: 'Not Found', message: 'merak control-plane proxy: no such route' }));
      return;
    }
    let delayMs = 0;
    for (const [fault, rule] of this.rules.get(route.scenarioId) ?? []) {
      rule.calls++;
      if (rule.random() >= rule.rate) continue;
      rule.hit++;
      if (rule.status > 0) {
        req.resume();
        res.writeHead(rule.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: rule.status, error: 'Injected fault', message: `merak fault ${fault}: control-plane-errors`, path: m![2] ?? '/' }));
        return;
      }
      delayMs = Math.max(delayMs, rule.delayMs);
    }
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    await this.forward(req, res, route.upstream, m![2] ?? '');
  }

  private forward(req: IncomingMessage, res: ServerResponse, upstream: URL, rest: string): Promise<void> {
    const target = new URL(upstream.href.replace(/\/+$/, '') + rest);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const out = send(target, { method: req.method, headers }, (up) => {
        const back: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
        up.on('end', () => resolve());
        up.on('error', reject);
      });
      out.on('error', reject);
      req.on('aborted', () => out.destroy());
      req.pipe(out);
    });
  }
}
