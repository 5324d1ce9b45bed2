// The Alcor-compatible HTTP server: listeners, the request pipeline (body → route → faults before
// → handler → faults after → answer → call log) and Spring's error JSON. One listener for every
// path, or one per service on its NodePort number, answering only that service's paths as the
// real deployment does (Alcor's REST API, docs/alcor.md).
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '@merak/common';
import type { Logger } from 'pino';
import { type AppliedFault, CallLog, type CallRecord } from './calls.js';
import { CONTROL_PREFIX, handleControl } from './control.js';
import { ALCOR_SERVICES, type AlcorService, NODE_PORTS } from './entities.js';
import { AlcorHttpError, NO_MESSAGE, springErrorBody } from './errors.js';
import { Faults, type TerminalFault } from './faults.js';
import { type GoalStatePush, type GoalStatePushOptions, startGoalStatePush } from './goalstate/goalstate-push.js';
import type { PushFaults } from './goalstate/push-faults.js';
import type { PushLog } from './goalstate/push-log.js';
import { nodeRoutes } from './nodes.js';
import { portRoutes } from './ports.js';
import { randomSeed } from './random.js';
import { routerRoutes } from './routers.js';
import { type Reply, RouteTable, type RouteMatch } from './routes.js';
import { securityGroupRuleRoutes } from './security-group-rules.js';
import { securityGroupRoutes } from './security-groups.js';
import { type AlcorSnapshot, AlcorState, type BindHook } from './state.js';
import { subnetRoutes } from './subnets.js';
import { vpcRoutes } from './vpcs.js';

export interface AlcorServerOptions {
  /** 'single' (default): one port for every path. 'node-ports': one listener per service. */
  readonly mode?: 'single' | 'node-ports';
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** single mode: the port (default 0, a random free port). */
  readonly port?: number;
  /**
   * node-ports mode: each service listens on basePort + (its NodePort − 30000), so 30000 gives
   * the real numbers 30001/2/3/6/7/8. Default 0: a random free port per service.
   */
  readonly basePort?: number;
  /** Seeds MAC and VNI allocation (default: random). */
  readonly seed?: number;
  /** Called for every bound port create/update/delete instead of the GoalState push (tests). */
  readonly onBind?: BindHook;
  /**
   * Push GoalState to host agents over gRPC as Alcor's NCM does, and serve RequestGoalStates on
   * the NCM port. Absent: nothing is pushed and bound ports become ACTIVE.
   */
  readonly goalState?: GoalStatePushOptions;
  /** Serve the control endpoint under /_merak/ (default false; the CLI turns it on). */
  readonly control?: boolean;
  /** Keep only the newest N call records (default: all). */
  readonly maxCalls?: number;
  /** Internal errors and bind-hook failures are logged here (default: nowhere). */
  readonly logger?: Logger;
}

export interface AlcorServer {
  readonly mode: 'single' | 'node-ports';
  /** Base URL per service, e.g. http://127.0.0.1:41234 (the same six times in single mode). */
  readonly urls: Readonly<Record<AlcorService, string>>;
  readonly calls: CallLog;
  readonly faults: Faults;
  /** With the `goalState` option: the NCM port, every push made, and the push fault rules. */
  readonly goalState?: { readonly ncmPort: number; readonly pushes: PushLog; readonly faults: PushFaults };
  /** A copy of everything the server holds. */
  state(): AlcorSnapshot;
  /** Forgets all state, calls, pushes and fault rules; the listeners and agent channels stay. */
  reset(): void;
  setBindHook(hook: BindHook | undefined): void;
  /** Stops listening and closes open connections, agent channels and the NCM port. */
  close(): Promise<void>;
}

const BODY_LIMIT = 64 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        reject(new AlcorHttpError(413, 'request body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const isJsonType = (contentType: string): boolean => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType.trim());

interface Incoming {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly raw: Buffer;
  readonly parsed: unknown;
  readonly parseError: string | undefined;
}

const wallClock = (): number => performance.timeOrigin + performance.now();

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startAlcorServer(options: AlcorServerOptions = {}): Promise<AlcorServer> {
  const mode = options.mode ?? 'single';
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger;
  const state = new AlcorState(options.seed ?? randomSeed(), options.onBind, logger);
  const calls = new CallLog(options.maxCalls);
  const faults = new Faults();
  const all = new RouteTable([
    ...vpcRoutes(state), ...subnetRoutes(state), ...securityGroupRoutes(state), ...securityGroupRuleRoutes(state),
    ...routerRoutes(state), ...nodeRoutes(state), ...portRoutes(state),
  ]);
  let seq = 0;
  let push: GoalStatePush | undefined;
  const control = {
    calls, faults,
    state: () => state.snapshot(),
    reset: () => {
      state.clear();
      calls.clear();
      faults.clear();
      push?.pushes.clear();
      push?.faults.clear();
    },
    goalState: () => push,
  };

  /** The handler's answer, or Spring's error JSON for what went wrong. */
  async function process(match: RouteMatch, inc: Incoming, flavour: AlcorService | undefined): Promise<Reply> {
    const error = (status: number, message: string): Reply => ({ status, json: springErrorBody(flavour, status, message, inc.path) });
    if (match.kind === 'not-found') return error(404, NO_MESSAGE);
    if (match.kind === 'method-not-allowed') return error(405, `Request method '${inc.method}' not supported`);
    const { route, params } = match;
    if (route.body) {
      // Spring: an empty body is "missing"; a body needs a JSON content type (a missing one is
      // application/octet-stream); then Jackson parses it.
      if (inc.raw.length === 0) return error(400, 'Required request body is missing');
      const type = inc.contentType ?? 'application/octet-stream';
      if (!isJsonType(type)) return error(415, `Content type '${type}' not supported`);
      if (inc.parseError !== undefined) return error(400, `JSON parse error: ${inc.parseError}`);
      if (inc.parsed === null) return error(400, 'Required request body is missing');
    }
    try {
      return await route.handler({ params, query: inc.query, body: inc.parsed, path: inc.path });
    } catch (e) {
      if (e instanceof AlcorHttpError) return error(e.status, e.message);
      logger?.error({ err: e, method: inc.method, path: inc.path }, 'handler failed');
      return error(500, errorMessage(e));
    }
  }

  function faultReply(t: TerminalFault, flavour: AlcorService | undefined, path: string): Reply | 'drop' {
    if (t.action.kind === 'drop') return 'drop';
    const message = t.action.message ?? `injected by fault rule ${t.ruleId}`;
    return { status: t.action.status, json: springErrorBody(flavour, t.action.status, message, path) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, listener: AlcorService | 'all', table: RouteTable): Promise<void> {
    const startedAt = wallClock();
    const raw = await readBody(req);
    const url = new URL(`http://alcor${req.url ?? '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const text = raw.toString('utf8');
    let parsed: unknown;
    let parseError: string | undefined;
    if (raw.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        parseError = errorMessage(e);
      }
    }
    const inc: Incoming = { method, path: url.pathname, query: url.searchParams, contentType: req.headers['content-type'], raw, parsed, parseError };

    if (options.control && inc.path.startsWith(CONTROL_PREFIX)) {
      send(res, handleControl(control, method, inc.path, inc.query, parsed));
      return;
    }

    const callSeq = ++seq;
    const match = table.match(method, inc.path);
    const service = match.kind === 'found' ? match.route.service : match.kind === 'method-not-allowed' ? match.service : undefined;
    const flavour = service ?? (listener === 'all' ? undefined : listener);
    const plan = faults.decide(service, method, inc.path, match.kind === 'found' ? match.route.pattern : inc.path);
    if (plan.beforeLatencyMs > 0) await sleep(plan.beforeLatencyMs);
    let reply: Reply | 'drop' = plan.before ? faultReply(plan.before, flavour, inc.path) : await process(match, inc, flavour);
    if (plan.afterLatencyMs > 0) await sleep(plan.afterLatencyMs);
    if (plan.after) reply = faultReply(plan.after, flavour, inc.path);

    let status: number | undefined;
    let responseBody: unknown;
    if (reply === 'drop') {
      req.socket.destroy();
    } else {
      status = reply.status;
      responseBody = send(res, reply);
    }
    const record: CallRecord = {
      seq: callSeq,
      service,
      listener,
      method,
      path: inc.path,
      query: url.search.slice(1),
      route: match.kind === 'found' ? `${match.route.method} ${match.route.pattern}` : undefined,
      requestBody: raw.length === 0 ? undefined : parseError === undefined ? JSON.parse(text) : text,
      status,
      responseBody,
      faults: plan.applied as AppliedFault[],
      dropped: reply === 'drop',
      startedAt,
      finishedAt: wallClock(),
    };
    calls.add(record);
  }

  /** Writes the answer; returns the body as the call log keeps it (a copy). */
  function send(res: ServerResponse, reply: Reply): unknown {
    if ('json' in reply) {
      const body = JSON.stringify(reply.json);
      res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return JSON.parse(body);
    }
    if ('text' in reply) {
      res.writeHead(reply.status, { 'content-type': 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(reply.text) });
      res.end(reply.text);
      return reply.text;
    }
    res.writeHead(reply.status, { 'content-length': 0 });
    res.end();
    return undefined;
  }

  function makeServer(listener: AlcorService | 'all', table: RouteTable): Server {
    const server = createServer((req, res) => {
      handle(req, res, listener, table).catch((e: unknown) => {
        const status = e instanceof AlcorHttpError ? e.status : 500;
        logger?.error({ err: e }, 'request failed');
        if (!res.headersSent && !res.destroyed) send(res, { status, json: springErrorBody(undefined, status, errorMessage(e), req.url ?? '/') });
      });
    });
    server.keepAliveTimeout = 60_000; // Go and Spring clients keep connections open
    return server;
  }

  const servers: Server[] = [];
  if (options.goalState) {
    push = await startGoalStatePush(state, options.goalState, host, logger);
    state.goalState = push.sink;
  }
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const urls = {} as Record<AlcorService, string>;
  try {
    if (mode === 'single') {
      const server = makeServer('all', all);
      servers.push(server);
      const port = await listen(server, host, options.port ?? 0);
      for (const s of ALCOR_SERVICES) urls[s] = `http://${hostInUrl}:${port}`;
    } else {
      const base = options.basePort ?? 0;
      for (const s of ALCOR_SERVICES) {
        const server = makeServer(s, all.only(new Set([s])));
        servers.push(server);
        const port = await listen(server, host, base === 0 ? 0 : base + NODE_PORTS[s] - 30000);
        urls[s] = `http://${hostInUrl}:${port}`;
      }
    }
  } catch (e) {
    await Promise.all(servers.map(closeServer));
    await push?.close();
    throw e;
  }

  return {
    mode,
    urls,
    calls,
    faults,
    ...(push ? { goalState: { ncmPort: push.ncmPort, pushes: push.pushes, faults: push.faults } } : {}),
    state: () => state.snapshot(),
    reset: control.reset,
    setBindHook: (hook) => {
      state.bindHook = hook;
    },
    close: async () => {
      await Promise.all(servers.map(closeServer));
      await push?.close();
    },
  };
}
