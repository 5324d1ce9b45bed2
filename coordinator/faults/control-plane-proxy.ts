// The small HTTP proxy the coordinator puts between the agents and an HTTP control plane (Alcor,
// or any other) for the control-plane faults: a scenario with such faults gives its agents a proxy
// URL in place of the control plane's (/s/<route>/… stands for <upstream>/…), and while a fault
// lasts, a seeded fraction of the calls is answered with its error status, or held back its delay
// before it goes on. Everything else passes through as it is, streamed both ways.
// A route carries its upstream and scenario, signed with the proxy's key (the coordinator's token):
// the agents record the URL with each VM and call it again to delete the VM, maybe after the
// coordinator restarted, so it must still lead to the same place, and only there.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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
  private readonly rules = new Map<string, Map<number, ActiveRule>>();

  private constructor(private readonly server: Server, readonly baseUrl: string, private readonly key: Buffer, private readonly logger: Logger) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        this.logger.warn({ err: errorMessage(e), url: req.url }, 'control-plane proxy: call failed');
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 502, error: 'Bad Gateway', message: `merak control-plane proxy: ${errorMessage(e)}` }));
      });
    });
  }

  /**
   * Listens on `host:port` (port 0: any free one); the agents are given http://ADVERTISE:port
   * (default: host, which must then be an address they reach). `key` signs the routes (random
   * when not given: routes then do not outlive this process).
   */
  static async start(host: string, port: number, logger: Logger, opts: { advertise?: string; key?: string } = {}): Promise<ControlPlaneProxy> {
    const server = createServer({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new FaultProxyListenError(`${host}:${port}`, e)));
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    const at = opts.advertise ?? host;
    const base = `http://${at.includes(':') ? `[${at}]` : at}:${bound}`;
    logger.info({ listen: `${host}:${bound}`, url: base }, 'control-plane proxy ready');
    const key = opts.key === undefined ? randomBytes(32) : createHmac('sha256', 'merak control-plane proxy').update(opts.key).digest();
    return new ControlPlaneProxy(server, base, key, logger);
  }

  /** The URL scenario `scenarioId`'s agents are given in place of `upstream` (the same for the same key). */
  urlFor(scenarioId: string, upstream: string): string {
    const up = new URL(upstream).href.replace(/\/+$/, '');
    const b64 = (t: string): string => Buffer.from(t).toString('base64url');
    return `${this.baseUrl}/s/${b64(up)}.${b64(scenarioId)}.${this.sign(scenarioId, up).toString('base64url')}`;
  }

  private sign(scenarioId: string, upstream: string): Buffer {
    return createHmac('sha256', this.key).update(`${scenarioId}\n${upstream}`).digest().subarray(0, 16);
  }

  /** The route a signed token stands for; undefined when it is not one this key signed. */
  private route(token: string): { scenarioId: string; upstream: URL } | undefined {
    const [u, id, mac] = token.split('.');
    if (u === undefined || id === undefined || mac === undefined) return undefined;
    const upstream = Buffer.from(u, 'base64url').toString();
    const scenarioId = Buffer.from(id, 'base64url').toString();
    const given = Buffer.from(mac, 'base64url');
    const want = this.sign(scenarioId, upstream);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    try {
      return { scenarioId, upstream: new URL(upstream) };
    } catch {
      return undefined;
    }
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

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/s\/([A-Za-z0-9_.-]+)(\/.*)?$/.exec(req.url ?? '');
    const route = m ? this.route(m[1]!) : undefined;
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
