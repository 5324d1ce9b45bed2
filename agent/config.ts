// The agent's configuration: flags (and a few env vars) parsed and validated once at start.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@merak/common';
import { type ClientTls, type ServerTls, loadClientTls, loadServerTls } from '@merak/common';
import { splitCommand } from './supervisor/host-agent-supervisor.js';
import { parseIpv4 } from '@merak/common';

export interface AgentConfig {
  readonly vhost: string;
  readonly grpcListen: string;
  readonly httpListen: string;
  readonly ovsdbSocket: string;
  /** OVS's run directory: bridges' OpenFlow management sockets and vswitchd's control socket. */
  readonly ovsRundir: string;
  readonly bridge: string;
  readonly datapathType: 'system' | 'netdev';
  /** undefined only with --insecure */
  readonly token: string | undefined;
  /** --tls-cert/--tls-key: the gRPC listener serves TLS; undefined = plaintext. */
  readonly tlsServer: ServerTls | undefined;
  /** --tls-ca/--tls-server-name: the coordinator is dialed over TLS and verified; undefined = plaintext. */
  readonly tlsCoordinator: ClientTls | undefined;
  readonly capacity: number;
  readonly defaultConcurrency: number;
  readonly maxBatch: number;
  readonly hollow: boolean;
  readonly logLevel: string;
  readonly coordinator: string | undefined;
  readonly advertise: string | undefined;
  /** --underlay-ip: the tunnel endpoint to advertise; '' = none (or the one the underlay interface has). */
  readonly underlayIp: string;
  readonly pingRate: number;
  /** A host agent to start and supervise (e.g. Alcor's ACA), as argv; undefined = none. */
  readonly hostAgent: readonly string[] | undefined;
  /** --underlay-interface: the interface that carries the overlay; undefined = no underlay here. */
  readonly underlayInterface: string | undefined;
  /** --goalstate: where to serve Alcor's GoalStateProvisioner (HOST:PORT); undefined = not served. */
  readonly goalstate: string | undefined;
  /** --alcor-ncm: the NCM to ask for this host's goal states after a restart; undefined = none. */
  readonly alcorNcm: string | undefined;
  /** --netns: the vhost's network namespace when this process runs outside it; undefined = its own. */
  readonly netns: string | undefined;
}

export const AGENT_HELP = `merak-agent: owns one emulated host's VMs (network namespaces with ports on Open vSwitch).

Usage: merak-agent [options]

  --vhost NAME            this vhost's name (default: the hostname)
  --listen ADDR           gRPC address, HOST:PORT or unix:PATH (default 0.0.0.0:40054)
  --http ADDR             /healthz, /readyz, /metrics; HOST:PORT or unix:PATH (default 0.0.0.0:9001)
  --ovsdb PATH            OVSDB unix socket (default /var/run/openvswitch/db.sock)
  --ovs-rundir DIR        OVS's run directory, where ovs-vswitchd keeps each bridge's OpenFlow
                          socket (br-tun.mgmt) and its control socket (default: --ovsdb's folder)
  --bridge NAME           integration bridge (default br-int)
  --datapath-type TYPE    system (kernel module) or netdev (userspace) (default system)
  --token-file PATH       bearer token required on every call (or env MERAK_TOKEN)
  --insecure              accept calls without a token (local use only)
  --tls-cert PATH, --tls-key PATH
                          serve gRPC over TLS with this certificate (PEM) and its key
  --tls-ca PATH           dial the coordinator over TLS and verify its certificate against this
                          CA (PEM); without it the link is plaintext (docs/security.md)
  --tls-server-name NAME  the name the coordinator's certificate must hold (default: the host of
                          --coordinator)
  --capacity N            the most VMs this vhost holds (default 10000)
  --concurrency N         VMs in flight per batch unless the batch says (default 32)
  --max-batch N           operations per Apply call (default 100000)
  --hollow                no kernel work: VMs exist only in memory (control-plane load tests)
  --coordinator HOST:PORT register with this coordinator and keep a stream to it (heartbeats, and
                          the coordinator's calls: plans, pings, tunnels)
  --advertise ADDR        the gRPC address to tell the coordinator, for users who call this agent
                          directly (default: --listen); the coordinator itself calls down the
                          registration stream and never dials agents
  --underlay-interface NAME
                          the interface that carries the overlay tunnels; its IPv4 address is this
                          vhost's tunnel endpoint. With --datapath-type netdev the agent makes it a
                          port of an OVS bridge br-phy and moves the address to br-phy (OVS's
                          userspace tunnels need that); with system it stays as it is
  --underlay-ip IP        this vhost's tunnel endpoint, told to the coordinator (with
                          --underlay-interface: must be that interface's address)
  --ping-rate N           echoes per second this agent sends at most in a ping test, over all its
                          VMs (default 1000): bursts overrun a userspace datapath (and, with the
                          flood baseline, each first echo's ARP is flooded to every VM of the VPC)
  --host-agent "CMD ARGS" a host agent to run beside this one and supervise (e.g. Alcor's ACA:
                          "/opt/aca/AlcorControlAgent -a 10.0.0.5 -p 30014"): restarted with
                          backoff when it exits, its state in /readyz and /metrics; no shell
  --goalstate ADDR        serve Alcor's GoalStateProvisioner here, standing in for Alcor's host agent
                          (ACA): HOST:PORT, HOST or :PORT; the port defaults to 50001, the one
                          Alcor's NCM dials at the node's local_ip. Plaintext, as Alcor's own
                          ends; the coordinator registers the node with the address it binds
  --alcor-ncm HOST:PORT   with --goalstate: at start, ask this NCM for this host's goal states
                          (RequestGoalStates, AGENT_RESTARTED) and drop neighbors it no longer
                          has; without it the agent keeps what it applied in OVS
  --netns PATH            the vhost's network namespace (e.g. /run/netns/NAME) when this process
                          runs outside it: its VMs' ports, the underlay and the GoalState listener
                          are made there (default: this process's own namespace). With --group,
                          several vhosts' agents share one process (one Node runtime, not one each)
  --group FILE            run several agents in this one process: FILE is JSON, {"agents": [[flags
                          of one agent], ...]}, each with its own --vhost, --netns, sockets and
                          OVSDB; every agent is checked before any starts, and it is ready once all
                          are ("agent group ready"); no other flag beside it
  --log-level LEVEL       pino level (default info; env MERAK_LOG_LEVEL)
  -h, --help              this text
`;

function positiveInt(field: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(field, `'${text}' is not an integer in 1..${max}`);
  return n;
}

/** HOST:PORT, or unix:PATH (a unix socket reaches across network namespaces). */
function hostPort(field: string, text: string): string {
  if (text.startsWith('unix:') && text.length > 5) return text;
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError(field, `'${text}' is not HOST:PORT`);
  return text;
}

/** Alcor's NCM dials its host agents on this port. */
export const GOALSTATE_PORT = 50001;

/** --goalstate: HOST:PORT, HOST (port 50001) or :PORT (all addresses). */
function goalstateAddress(text: string): string {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text);
  const host = m?.[1] === '' ? '0.0.0.0' : m?.[1] ?? '';
  const port = m?.[2] === undefined ? GOALSTATE_PORT : Number(m[2]);
  if (!m || port > 65535 || (host !== '0.0.0.0' && parseIpv4(host) === undefined && host !== 'localhost')) {
    throw new InvalidArgumentError('--goalstate', `'${text}' is not HOST:PORT, HOST or :PORT (HOST an IPv4 address)`);
  }
  return `${host}:${port}`;
}

export function parseAgentConfig(argv: readonly string[], env: NodeJS.ProcessEnv): AgentConfig | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      vhost: { type: 'string' }, listen: { type: 'string' }, http: { type: 'string' }, ovsdb: { type: 'string' },
      bridge: { type: 'string' }, 'ovs-rundir': { type: 'string' }, 'datapath-type': { type: 'string' }, 'token-file': { type: 'string' },
      insecure: { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' }, 'tls-server-name': { type: 'string' }, capacity: { type: 'string' }, concurrency: { type: 'string' },
      'max-batch': { type: 'string' }, hollow: { type: 'boolean' }, coordinator: { type: 'string' },
      advertise: { type: 'string' }, 'underlay-ip': { type: 'string' }, 'underlay-interface': { type: 'string' },
      'ping-rate': { type: 'string' }, 'host-agent': { type: 'string' }, goalstate: { type: 'string' }, 'alcor-ncm': { type: 'string' }, netns: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const datapathType = values['datapath-type'] ?? 'system';
  if (datapathType !== 'system' && datapathType !== 'netdev') {
    throw new InvalidArgumentError('--datapath-type', `'${datapathType}' is neither system nor netdev`);
  }
  let token: string | undefined;
  if (values['token-file']) token = readFileSync(values['token-file'], 'utf8').trim();
  else if (env.MERAK_TOKEN) token = env.MERAK_TOKEN.trim();
  if (token === '') throw new InvalidArgumentError('--token-file', 'the token is empty');
  if (!token && !values.insecure) {
    throw new InvalidArgumentError('--token-file', 'no token (give --token-file or MERAK_TOKEN, or --insecure for local use)');
  }
  const vhost = values.vhost ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(vhost)) throw new InvalidArgumentError('--vhost', `'${vhost}' is not a valid name`);
  const bridge = values.bridge ?? 'br-int';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(bridge)) throw new InvalidArgumentError('--bridge', `'${bridge}' is not a valid bridge name`);
  const grpcListen = hostPort('--listen', values.listen ?? '0.0.0.0:40054');
  const underlayIp = values['underlay-ip'] ?? '';
  if (underlayIp !== '' && parseIpv4(underlayIp) === undefined) throw new InvalidArgumentError('--underlay-ip', `'${underlayIp}' is not an IPv4 address`);
  const underlayInterface = values['underlay-interface'];
  if (underlayInterface !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(underlayInterface)) {
      throw new InvalidArgumentError('--underlay-interface', `'${underlayInterface}' is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
    }
    if (values.hollow) throw new InvalidArgumentError('--underlay-interface', 'a hollow agent has no data plane');
    if (underlayInterface === bridge) throw new InvalidArgumentError('--underlay-interface', `'${underlayInterface}' is the integration bridge`);
  }
  const hostAgent = values['host-agent'] === undefined ? undefined : splitCommand('--host-agent', values['host-agent']);
  const goalstate = values.goalstate === undefined ? undefined : goalstateAddress(values.goalstate);
  if (goalstate !== undefined && hostAgent !== undefined) {
    // Alcor's host agent listens on 50001 unless given -s PORT.
    const s = hostAgent.indexOf('-s');
    const acaPort = s >= 0 && hostAgent[s + 1] !== undefined ? Number(hostAgent[s + 1]) : 50001;
    const port = Number(goalstate.slice(goalstate.lastIndexOf(':') + 1));
    if (port === acaPort) throw new InvalidArgumentError('--goalstate', `port ${port} is the one the --host-agent listens on: one GoalState server per port (give the host agent -s PORT, or --goalstate another port)`);
  }
  const tlsServer = loadServerTls(values['tls-cert'], values['tls-key']);
  const tlsCoordinator = loadClientTls(values['tls-ca'], values['tls-server-name']);
  if (tlsCoordinator !== undefined && values.coordinator === undefined) throw new InvalidArgumentError('--tls-ca', 'verifies the coordinator: give --coordinator too');
  const netns = values.netns;
  if (netns !== undefined) {
    if (!existsSync(netns)) throw new InvalidArgumentError('--netns', `${netns} does not exist (a namespace file, e.g. /run/netns/NAME)`);
    // It would run in this process's namespace, not the vhost's.
    if (hostAgent !== undefined) throw new InvalidArgumentError('--netns', 'a --host-agent runs in this process\'s own namespace: run the agent inside the vhost\'s namespace instead');
    if (values.hollow) throw new InvalidArgumentError('--netns', 'a hollow agent has no kernel work');
  }
  if (values['alcor-ncm'] !== undefined && goalstate === undefined) throw new InvalidArgumentError('--alcor-ncm', 'asks for goal states that only --goalstate can take: give --goalstate too');
  return {
    vhost,
    grpcListen,
    httpListen: hostPort('--http', values.http ?? '0.0.0.0:9001'),
    ovsdbSocket: values.ovsdb ?? '/var/run/openvswitch/db.sock',
    ovsRundir: values['ovs-rundir'] ?? dirname(values.ovsdb ?? '/var/run/openvswitch/db.sock'),
    bridge,
    datapathType,
    token: values.insecure ? undefined : token,
    tlsServer,
    tlsCoordinator,
    capacity: positiveInt('--capacity', values.capacity ?? '10000', 10_000_000),
    defaultConcurrency: positiveInt('--concurrency', values.concurrency ?? '32', 4096),
    maxBatch: positiveInt('--max-batch', values['max-batch'] ?? '100000', 10_000_000),
    hollow: values.hollow ?? false,
    logLevel: values['log-level'] ?? env.MERAK_LOG_LEVEL ?? 'info',
    coordinator: values.coordinator === undefined ? undefined : hostPort('--coordinator', values.coordinator),
    advertise: values.advertise === undefined ? undefined : hostPort('--advertise', values.advertise),
    underlayIp,
    underlayInterface,
    pingRate: positiveInt('--ping-rate', values['ping-rate'] ?? '1000', 1_000_000),
    hostAgent,
    goalstate,
    alcorNcm: values['alcor-ncm'] === undefined ? undefined : hostPort('--alcor-ncm', values['alcor-ncm']),
    netns,
  };
}
