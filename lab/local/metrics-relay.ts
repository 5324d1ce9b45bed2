// `local up --metrics-port BASE`: each process's /metrics on TCP for a local Prometheus. Every
// process of the emulation serves /metrics on a unix socket (the agents inside their vhosts'
// namespaces, where no TCP port of this machine reaches), so the supervisor relays
// 127.0.0.1:BASE to the coordinator's socket and 127.0.0.1:BASE+1+i to vhost i's agent, byte for
// byte. A relay outlives the process behind it: a restarted agent serves the same socket again.
// It writes a ready prometheus.yml beside the emulation, listing them.
import { writeFileSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MerakError, errorMessage } from '@merak/common';
import type { EmulationState } from './emulation-state.js';
import type { LocalRecord } from './local-record.js';

export interface MetricsTarget {
  readonly job: 'merak-coordinator' | 'merak-agents';
  /** The vhost's name, or 'coordinator'. */
  readonly name: string;
  readonly port: number;
  /** The unix socket its HTTP server listens on. */
  readonly socket: string;
}

/** A relay port that could not be taken (in use, or not allowed). */
export class MetricsPortError extends MerakError {
  constructor(port: number, cause: unknown) {
    super('UNAVAILABLE', `--metrics-port: 127.0.0.1:${port} cannot be listened on (${errorMessage(cause)})`, { cause, context: { port } });
  }
}

export const PROMETHEUS_FILE = 'prometheus.yml';

/** The highest base that leaves room for the coordinator and `hosts` agents. */
export const maxMetricsBase = (hosts: number): number => 65535 - hosts;

export function metricsTargets(record: LocalRecord, state: EmulationState, base: number): MetricsTarget[] {
  const http = record.coordinatorLaunch.http;
  return [
    { job: 'merak-coordinator', name: 'coordinator', port: base, socket: http.startsWith('unix:') ? http.slice(5) : http },
    ...state.vhosts.map((v, i): MetricsTarget => ({ job: 'merak-agents', name: v.name, port: base + 1 + i, socket: v.httpSocket })),
  ];
}

/** A Prometheus configuration scraping every target (what `local up --metrics-port` writes beside the emulation). */
export function prometheusConfig(targets: readonly MetricsTarget[]): string {
  const job = (name: MetricsTarget['job']): string => {
    const list = targets.filter((t) => t.job === name).map((t) => `          - 127.0.0.1:${t.port}  # ${t.name}`).join('\n');
    return `  - job_name: ${name}\n    static_configs:\n      - targets:\n${list}\n`;
  };
  return `# Written by 'merak local up --metrics-port': every process of the local emulation, relayed to TCP.\n`
    + `# prometheus --config.file=${PROMETHEUS_FILE}   (agents' series carry their vhost as the label vhost)\n`
    + `global:\n  scrape_interval: 5s\nscrape_configs:\n${job('merak-coordinator')}${job('merak-agents')}`;
}

export interface MetricsRelay {
  readonly targets: readonly MetricsTarget[];
  close(): Promise<void>;
}

/** Listens on each target's port and pipes every connection to its socket; writes prometheus.yml into `dir`. */
export async function startMetricsRelay(dir: string, targets: readonly MetricsTarget[], logger: Logger): Promise<MetricsRelay> {
  const servers: Server[] = [];
  const open = new Set<Socket>();
  const close = async (): Promise<void> => {
    for (const s of open) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  try {
    for (const t of targets) servers.push(await relay(t, open, logger));
  } catch (e) {
    await close();
    throw e;
  }
  writeFileSync(join(dir, PROMETHEUS_FILE), prometheusConfig(targets));
  logger.info({ ports: targets.map((t) => `${t.name}=${t.port}`) }, 'metrics relayed to TCP');
  return { targets, close };
}

function relay(t: MetricsTarget, open: Set<Socket>, logger: Logger): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection(t.socket);
    open.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    upstream.on('error', (e) => {
      // The process is down (being restarted): the scrape fails, as it would against the process itself.
      logger.debug({ target: t.name, err: errorMessage(e) }, 'metrics relay: target not answering');
      drop();
    });
    client.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new MetricsPortError(t.port, e)));
    server.listen(t.port, '127.0.0.1', () => resolve(server));
  });
}
