#!/usr/bin/env node
// The Alcor-compatible test server as a program, to try Merak-TS's Alcor mode on one machine.
// Composition root: options → server → one JSON log line per call → clean stop on SIGTERM.
import { parseArgs } from 'node:util';
import { InvalidArgumentError, errorMessage, shutdownOnSignal } from '@merak/common';
import { pino } from 'pino';
import { startAlcorServer } from './server.js';

const HELP = `merak-alcor-server: an Alcor-compatible test server (the endpoints, JSON and status codes of
Alcor's REST API, docs/alcor.md), with state kept in memory and fault injection. Like Alcor's NCM it pushes
GoalState over gRPC (PushGoalStatesStream, plaintext) to the host agent of the node a port is
bound to, at the node's local_ip:server_port (50001 when server_port is 0), and to the other
hosts of the port's subnet; the REST answer waits for the pushes, and the port becomes ACTIVE,
or FAILED when its host's push failed. A restarted agent can ask for its state again
(RequestGoalStates) on the NCM port. See docs/alcor-server.md.

Usage: node test/dist/alcor/main.js [options]      (or: npm run alcor:server -- [options])

  --node-ports        one listener per service on its Kubernetes NodePort (the default):
                      VPC 30001, subnet 30002, route 30003, port 30006, node 30007, SG 30008;
                      each answers only its own service's paths, like the real deployment
  --base-port N       with --node-ports: listen on N+1, N+2, N+3, N+6, N+7, N+8 (default 30000;
                      0 = a random free port per service, printed at start)
  --port N            one listener for every path on port N instead (0 = random)
  --host ADDR         address to listen on (default 127.0.0.1; 0.0.0.0 for other machines)
  --seed N            seed for MAC and VNI allocation (default random)
  --max-calls N       call records kept for GET /_merak/calls (default 10000)
  --goalstate-push on|off
                      push GoalState to host agents (default on); off: nothing is pushed and a
                      bound port becomes ACTIVE at once
  --push-timeout-ms N how long a push may take before its host counts as failed (default
                      300000, Alcor's 5 minutes)
  --channels-per-host N
                      gRPC channels per host agent, each warmed up with one empty GoalStateV2
                      on first contact (default 1; Alcor's Kubernetes config uses 10)
  --ncm-port N        the NCM's gRPC port for RequestGoalStates (default 9016; 0 = random,
                      printed in the 'listening' line as ncmPort); it listens on --host
  --log-bodies        put request and response bodies into the call log lines
  --log-level LEVEL   pino level (default info): one JSON line per call at info
  -h, --help          this text

Control endpoint, on every listener (no Alcor path starts with /_):
  GET    /_merak/state        VPCs, subnets, ports, SGs, routers, nodes, SG bindings, IPs, MACs
  GET    /_merak/calls        the call log (?since=SEQ for the newer ones)
  DELETE /_merak/calls        forget it
  GET    /_merak/faults       fault rules, each with how often it matched and fired
  POST   /_merak/faults       add a rule (201), e.g.
           {"method":"PUT","path":"/project/*/ports/*","phase":"before",
            "action":{"kind":"status","status":503},"limit":{"kind":"first","n":2}}
         action: {"kind":"latency","ms":N} | {"kind":"status","status":5xx[,"message":"…"]}
                 | {"kind":"drop"} (socket closed without an answer)
         limit:  {"kind":"always"} | {"kind":"first","n":N} | {"kind":"every","k":K}
                 | {"kind":"probability","p":0.1,"seed":1}
         phase:  "before" (default: the call changes nothing) or "after" (Alcor did it, the
                 client sees the fault); service: vpc|subnet|route|port|node|sg
         path:   * or {name} = one segment, ** = any rest
  DELETE /_merak/faults[/ID]  remove one rule, or all
  GET    /_merak/pushes       every GoalState push: host, kind, resources, outcome, agent statuses
                              (?since=SEQ, ?host=NODE_NAME)
  GET    /_merak/push-faults  push fault rules; POST one (201), e.g.
           {"host":"vhost-1","action":{"kind":"failure"},"limit":{"kind":"first","n":1}}
         action: {"kind":"delay","ms":N} | {"kind":"drop"} (call cancelled, reply unread)
                 | {"kind":"failure"} (pushed, counted as if the agent answered FAILURE)
         host: a node_name (default: every host); limit as for /_merak/faults
  DELETE /_merak/push-faults[/ID]  remove one push fault rule, or all
  POST   /_merak/reset        forget state, calls, pushes and rules

Example: curl -s -XPOST localhost:30007/nodes/bulk -H 'content-type: application/json' \\
           -d '{"host_infos":[{"node_id":"n1","node_name":"vhost-0","local_ip":"10.0.0.5"}]}'
`;

function count(field: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(field, `'${text}' is not an integer ≥ ${min}`);
  return n;
}

function port(field: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(field, `'${text}' is not a port number`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      'node-ports': { type: 'boolean' }, 'base-port': { type: 'string' }, port: { type: 'string' },
      host: { type: 'string' }, seed: { type: 'string' }, 'max-calls': { type: 'string' },
      'log-bodies': { type: 'boolean' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'goalstate-push': { type: 'string' }, 'push-timeout-ms': { type: 'string' }, 'channels-per-host': { type: 'string' },
      'ncm-port': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.port !== undefined && (values['node-ports'] || values['base-port'] !== undefined)) {
    throw new InvalidArgumentError('--port', 'is one listener for all paths; it does not go with --node-ports/--base-port');
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new InvalidArgumentError('--seed', `'${values.seed}' is not an integer`);
  const maxCalls = Number(values['max-calls'] ?? 10_000);
  if (!Number.isInteger(maxCalls) || maxCalls < 0) throw new InvalidArgumentError('--max-calls', `'${values['max-calls']}' is not an integer ≥ 0`);
  const pushMode = values['goalstate-push'] ?? 'on';
  if (pushMode !== 'on' && pushMode !== 'off') throw new InvalidArgumentError('--goalstate-push', `'${pushMode}' is neither on nor off`);
  const goalState = pushMode === 'off' ? undefined : {
    timeoutMs: count('--push-timeout-ms', values['push-timeout-ms'] ?? '300000', 1),
    channelsPerHost: count('--channels-per-host', values['channels-per-host'] ?? '1', 1),
    ncmPort: port('--ncm-port', values['ncm-port'] ?? '9016'),
  };
  const logger = pino({ level: values['log-level'] ?? 'info', base: { component: 'alcor-server' } });
  const server = await startAlcorServer({
    mode: values.port === undefined ? 'node-ports' : 'single',
    host: values.host ?? '127.0.0.1',
    ...(values.port === undefined ? { basePort: port('--base-port', values['base-port'] ?? '30000') } : { port: port('--port', values.port) }),
    seed,
    control: true,
    maxCalls,
    logger,
    goalState,
  });
  const bodies = values['log-bodies'] ?? false;
  server.calls.subscribe((c) => {
    logger.info({
      seq: c.seq, service: c.service, method: c.method, path: c.path, query: c.query || undefined, status: c.status,
      dropped: c.dropped || undefined, faults: c.faults.length > 0 ? c.faults : undefined,
      ms: Math.round((c.finishedAt - c.startedAt) * 100) / 100,
      ...(bodies ? { request: c.requestBody, response: c.responseBody } : {}),
    }, 'call');
  });
  // The 'listening' line is what scripts parse: the URLs and, when pushing, the NCM port.
  logger.info({ mode: server.mode, urls: server.urls, goalStatePush: server.goalState !== undefined, ncmPort: server.goalState?.ncmPort }, 'listening');
  await shutdownOnSignal(logger, 'shutting down', () => server.close());
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    // A bad flag (ours, or parseArgs' ERR_PARSE_ARGS_*) is a usage error; anything else, a failure.
    const usage = e instanceof InvalidArgumentError || (e instanceof TypeError && String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`merak-alcor-server: ${errorMessage(e)}\n${usage ? `\n${HELP}` : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
