#!/usr/bin/env node
// merak: the user's command line. Talks to a coordinator (the local emulation's, or the one named
// with --coordinator); `local` and `demo` build the emulation on this machine.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type ServiceError, status } from '@grpc/grpc-js';
import { InvalidArgumentError, MerakError, errorMessage } from '@merak/common';
import { coordinatorV1 } from '@merak/proto';
import { ConnectError, type ConnectFlags, connect, localDir } from './connect.js';
import { DEMO_PROVIDERS, demo, isDemoProvider } from './demo.js';
import { localDown, localLeftovers, localSettings, localStatus, localUp } from './local.js';
import type { CoordinatorClient } from '../coordinator-client/coordinator-client.js';
import { phaseName, runScenario, writeReport } from './run-scenario.js';
import { COMPARE_HELP, CompareArgumentError, readReportArgument, runCompare, thresholdsOf } from './compare.js';
import { type Report, ReportFormatError, parseReportJson } from '@merak/coordinator';
import { maxMetricsBase } from '../local/metrics-relay.js';

const HELP = `merak: large-scale cloud emulation (Merak-TS).

Usage: merak COMMAND [options]

The main job:
  demo                a local emulation of --hosts vhosts (default 5), Merak's end-to-end scenario on
                      it (--vms VMs, default 50, in one VPC), the ping test, the report in --out;
                      the emulation stays up to look at (--down: tear it down at the end)
                      --provider alcor: the same with Alcor as the control plane: the
                      Alcor-compatible server runs here for the run (built in test/dist/alcor),
                      allocates and binds every VM's port and pushes its GoalState to the agents,
                      which program it; the ping test runs on that data plane; the report splits
                      Alcor's bind into REST work and GoalState push and programming
                      --provider ovn: the same with OVN as the control plane: the emulation also
                      runs OVN central (NB, SB, ovn-northd) and an ovn-controller per vhost; the
                      coordinator writes the VMs' ports, a security group and a router into OVN's
                      northbound database, each VM is ready once ovn-controller installed its
                      port; the ping test runs on OVN's Geneve data plane; the report splits each
                      port into NB write, bound, up and ovn-installed

The local emulation (needs root: network namespaces, Open vSwitch):
  local up            a coordinator and --hosts vhosts (default 5) on this machine, each vhost like a
                      Kubernetes pod: its own network namespace on an underlay bridge, its own
                      ovsdb-server + ovs-vswitchd (userspace datapath), its own agent; a supervisor
                      restarts any of these processes that ends (backoff 1 s doubling to 60 s, as
                      kubelet does). On an existing emulation: starts only what is down (and the
                      supervisor), keeps the rest, its VMs and the coordinator's store (its runs
                      resume), and says what it restarted
  local up --fresh    remove the existing emulation first, then start clean
  local down          remove all of it, the supervisor first (also what an interrupted run left)
  local status        per process: running or not, restarts, last exit (code or signal, when)

Scenarios (on the local emulation's coordinator, or --coordinator ADDR):
  run FILE            create the scenario in FILE (YAML or JSON; - = stdin), show its progress,
                      print its report and write report.json and report.html to --out
  list                the scenarios the coordinator knows
  show ID             one scenario
  report ID           print a scenario's report and write it to --out
  compare A B         two runs side by side (each a report.json, a folder with one, or a scenario
                      id), the difference and a verdict per figure; exit 1 when B regressed
                      (--threshold PCT, --floor-ms MS, --json; 'merak compare --help')
  test ID             run a scenario's connectivity test again
  delete ID           tear a scenario down on every agent (and in the control plane)
  agents              the agents registered with the coordinator

Options:
  --coordinator ADDR  HOST:PORT or unix:PATH (default: the local emulation's)
  --token-file PATH   the coordinator's token (or env MERAK_TOKEN; default: the local emulation's)
  --tls-ca PATH       the coordinator serves TLS: verify it with this CA (or env MERAK_TLS_CA)
  --tls-server-name N the name in the coordinator's certificate, if not --coordinator's host
                      (or env MERAK_TLS_SERVER_NAME)
  --local-dir DIR     the local emulation's folder (default $MERAK_LOCAL_DIR or /run/merak/local)
  --out DIR           where reports go (default ./merak-report)
  --hosts N, --vms N  for demo and local up
  --prefix P          names of the local emulation's namespaces and links (default merak)
  --underlay CIDR     the local underlay network (default: a TEST-NET range no route here uses)
  --down              demo: tear down at the end
  --fresh             local up: remove the existing emulation and start clean
  --provider P        demo: the control plane under test, one of
                        standalone  (default) none: the coordinator tells the agents their VXLAN
                                    peers and neighbors, and they program OVS themselves
                        alcor       Alcor (the Alcor-compatible server, started here for the run)
                        ovn         OVN (central and a chassis per vhost, in the emulation)
  --host-access       local up: give this machine an address on the underlay, so the vhosts reach
                      services running here (e.g. the Alcor-compatible server, for Alcor mode);
                      the agents (which serve Alcor's GoalState on 0.0.0.0:50001 of their vhost)
                      then ask the NCM here (port 9016) for their state after a restart
  --agents-per-process N
                      local up: N vhosts share one agent process (default 1: an agent process per
                      vhost, inside its namespace); each is still its own host (its namespace,
                      OVS, sockets, registration), but one Node runtime serves them: about 30 MiB
                      less per vhost (npm run bench:density). Killing it crashes each member's agent
  --metrics-port BASE local up: each process's /metrics on TCP for a local Prometheus, relayed by
                      the supervisor: the coordinator's on 127.0.0.1:BASE, vhost i's agent's on
                      BASE+1+i; a ready prometheus.yml is written into the local folder
  --ovn               local up: also OVN central (NB, SB, northd) in its own namespace on the
                      underlay and an ovn-controller per vhost; the coordinator gets --ovn-nb/--ovn-sb
  -h, --help          this text

Examples:
  merak demo
  merak demo --provider alcor --down
  merak demo --provider ovn
  merak local up --ovn && merak run examples/ovn.yaml
  merak local up --hosts 3 && merak run examples/two-vpcs.yaml && merak local down
  merak local up          (again, after a crash: starts only what is down)
`;

/** --metrics-port BASE: a port with room above it for the coordinator and up to 250 agents. */
function metricsPortOf(v: string | number | undefined): { metricsPort?: number } {
  if (v === undefined) return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1024 || n > maxMetricsBase(250)) throw new UsageError(`--metrics-port: '${v}' is not a port in 1024..${maxMetricsBase(250)}`);
  return { metricsPort: n };
}

interface Flags extends ConnectFlags {
  out: string;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

function describe(s: coordinatorV1.Scenario): string {
  const c = s.vms;
  const lines = [
    `${s.name} (${s.id}): ${phaseName(s.phase)}${s.error ? `: ${s.error}` : ''}`,
    `  provider ${s.provider}, ${s.hosts} hosts${s.lostHosts.length > 0 ? `, lost: ${s.lostHosts.join(', ')}` : ''}`,
    `  VMs: ${c?.requested ?? 0} requested, ${c?.ready ?? 0} ready, ${c?.failed ?? 0} failed, ${c?.pending ?? 0} pending (${c?.waiting ?? 0} waiting), ${c?.deleted ?? 0} deleted`,
  ];
  if (s.test) lines.push(`  ping: ${s.test.pairsPassed} passed, ${s.test.pairsFailed} failed; isolation ${s.test.isolationPassed} passed, ${s.test.isolationFailed} failed`);
  return lines.join('\n');
}

async function withClient(flags: Flags, fn: (c: CoordinatorClient) => Promise<number>): Promise<number> {
  const client = connect(flags);
  try {
    return await fn(client);
  } catch (e) {
    throw withHint(e, client);
  } finally {
    client.close();
  }
}

/** A call refused for a reason the user can fix here: the same error, and what to give. */
class CallError extends MerakError {
  constructor(readonly grpc: ServiceError, hint: string) {
    super('FAILED_PRECONDITION', `${grpc.details} (${hint})`, { cause: grpc });
  }
}

function withHint(e: unknown, client: CoordinatorClient): unknown {
  const grpc = e as Partial<ServiceError>;
  if (typeof grpc.code !== 'number') return e;
  if (grpc.code === status.UNAUTHENTICATED) return new CallError(e as ServiceError, "the coordinator's token: --token-file or MERAK_TOKEN");
  // A plaintext client gets no usable answer from a TLS server, nor a TLS client from a plaintext one.
  if (grpc.code === status.UNAVAILABLE && !client.address.startsWith('unix:')) {
    return new CallError(e as ServiceError, client.tls ? `could not reach ${client.address} over TLS: is it up, serving TLS, with a certificate from --tls-ca's CA?` : `could not reach ${client.address}: if it serves TLS, give --tls-ca`);
  }
  return e;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      coordinator: { type: 'string' }, 'token-file': { type: 'string' }, 'local-dir': { type: 'string' }, 'tls-ca': { type: 'string' }, 'tls-server-name': { type: 'string' },
      out: { type: 'string', default: 'merak-report' }, help: { type: 'boolean', short: 'h' },
      hosts: { type: 'string', default: '5' }, vms: { type: 'string', default: '50' }, prefix: { type: 'string', default: 'merak' },
      underlay: { type: 'string' }, down: { type: 'boolean', default: false }, 'host-access': { type: 'boolean', default: false },
      provider: { type: 'string', default: 'standalone' }, ovn: { type: 'boolean', default: false }, fresh: { type: 'boolean', default: false },
      'agents-per-process': { type: 'string', default: '1' }, 'metrics-port': { type: 'string' },
      threshold: { type: 'string' }, 'floor-ms': { type: 'string' }, json: { type: 'boolean', default: false },
    },
  });
  const [command, ...args] = positionals;
  if (values.help && command === 'compare') return (process.stdout.write(COMPARE_HELP), 0);
  if (values.help || !command) {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 2;
  }
  const flags: Flags = { coordinator: values.coordinator, tokenFile: values['token-file'], localDir: values['local-dir'], tlsCa: values['tls-ca'], tlsServerName: values['tls-server-name'], out: values.out! };
  const needId = (): string => {
    if (!args[0]) throw new UsageError(`${command} needs a scenario id (see 'merak list')`);
    return args[0];
  };
  const count = (flag: 'hosts' | 'vms' | 'agents-per-process', max: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${flag}: '${values[flag]}' is not an integer in 1..${max}`);
    return n;
  };
  const needRoot = (): void => {
    if (process.getuid?.() !== 0) throw new Error(`${command} needs root: it creates network namespaces, veths and Open vSwitch instances`);
  };
  switch (command) {
    case 'demo': {
      const provider = values.provider!;
      if (!isDemoProvider(provider)) throw new UsageError(`--provider: '${provider}' is not one of ${DEMO_PROVIDERS.join(', ')}`);
      // Every flag is checked before anything needs root.
      const options = { provider, dir: localDir(flags.localDir), hosts: count('hosts', 64), vms: count('vms', 10_000), out: flags.out, down: values.down!, prefix: values.prefix! };
      needRoot();
      return (await demo(options)) ? 0 : 1;
    }
    case 'local': {
      const dir = localDir(flags.localDir);
      const log = (l: string): void => console.log(l);
      if (args[0] === 'status') return (console.log(await localStatus(dir)), 0);
      needRoot();
      if (args[0] === 'up') {
        // On an existing emulation, the settings not given are its own (`local up` heals it as it is).
        const had = values.fresh ? undefined : localSettings(dir);
        const given = (flag: string): boolean => argv.some((a) => a === flag || a.startsWith(`${flag}=`));
        await localUp({
          dir, log, fresh: values.fresh!,
          // 250: the underlay is one /24, with room for this machine's address.
          hosts: had && !given('--hosts') ? had.hosts : count('hosts', 250),
          agentsPerProcess: had && !given('--agents-per-process') ? had.agentsPerProcess ?? 1 : count('agents-per-process', 1000),
          prefix: had && !given('--prefix') ? had.prefix : values.prefix!,
          hostAccess: had && !given('--host-access') ? had.hostAccess ?? false : values['host-access']!,
          ovn: had && !given('--ovn') ? had.ovn ?? false : values.ovn!,
          ...metricsPortOf(had && !given('--metrics-port') ? had.metricsPort : values['metrics-port']),
          ...(values.underlay ? { underlayCidr: values.underlay } : {}),
        });
        console.log(`up; run a scenario with 'merak run FILE', see its processes with 'merak local status', tear down with 'merak local down'`);
        return 0;
      }
      if (args[0] === 'down') {
        if (!localLeftovers(dir)) return (console.log(`nothing to remove in ${dir}`), 0);
        return (await localDown(dir, log)).failed.length === 0 ? 0 : 1;
      }
      throw new UsageError(`local ${args[0] ?? ''}: expected up, down or status`);
    }
    case 'run': {
      if (!args[0]) throw new UsageError('run needs a scenario file (YAML or JSON; - for stdin)');
      const text = readFileSync(args[0] === '-' ? 0 : args[0], 'utf8');
      return withClient(flags, async (c) => ((await runScenario(c, text, { out: flags.out })).ok ? 0 : 1));
    }
    case 'list':
      return withClient(flags, async (c) => {
        const { scenarios } = await c.listScenarios();
        if (scenarios.length === 0) console.log('no scenarios');
        else {
          console.log(table([['ID', 'NAME', 'PHASE', 'PROVIDER', 'HOSTS', 'VMS', 'READY', 'FAILED'], ...scenarios.map((s) => [
            s.id, s.name, phaseName(s.phase), s.provider, String(s.hosts), String(s.vms?.requested ?? 0), String(s.vms?.ready ?? 0), String(s.vms?.failed ?? 0),
          ])]));
        }
        return 0;
      });
    case 'show':
      return withClient(flags, async (c) => (console.log(describe(await c.getScenario(needId()))), 0));
    case 'report':
      return withClient(flags, async (c) => {
        const report = await c.getReport(needId());
        console.log(report.text);
        console.log(`\nreport written to ${writeReport(flags.out, report)}`);
        return 0;
      });
    case 'compare': {
      if (args.length !== 2) throw new CompareArgumentError('compare', `needs two runs, A and B (got ${args.length}); see 'merak compare --help'`);
      // Flags first, then the files, and only then the coordinator (for ids).
      const thresholds = thresholdsOf({ threshold: values.threshold, floorMs: values['floor-ms'] });
      const [a, b] = [readReportArgument('A', args[0]!), readReportArgument('B', args[1]!)];
      const fetch = async (tag: string, id: string, given: Report | undefined): Promise<{ source: string; report: Report }> => {
        if (given) return { source: id, report: given };
        const c = connect(flags);
        try {
          return { source: id, report: parseReportJson((await c.getReport(id)).json, `${tag} (scenario ${id})`) };
        } catch (e) {
          throw withHint(e, c);
        } finally {
          c.close();
        }
      };
      const out = runCompare(await fetch('A', args[0]!, a), await fetch('B', args[1]!, b), { thresholds, json: values.json!, out: flags.out, print: (t) => console.log(t) });
      return out.comparison.worse > 0 ? 1 : 0;
    }
    case 'test':
      return withClient(flags, async (c) => {
        const t = await c.runTest(needId());
        console.log(`ping: ${t.pairsPassed} passed, ${t.pairsFailed} failed; isolation ${t.isolationPassed} passed, ${t.isolationFailed} failed; rtt p50 ${t.rttP50Ms} ms, p99 ${t.rttP99Ms} ms`);
        return t.pairsFailed === 0 && t.isolationFailed === 0 ? 0 : 1;
      });
    case 'delete':
      return withClient(flags, async (c) => {
        const id = needId();
        await c.deleteScenario(id);
        await c.watch(id, () => undefined);
        const s = await c.getScenario(id);
        console.log(describe(s));
        return s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED ? 0 : 1;
      });
    case 'agents':
      return withClient(flags, async (c) => {
        const { agents } = await c.listAgents();
        if (agents.length === 0) console.log('no agents registered');
        else {
          console.log(table([['NAME', 'CONNECTED', 'ADDRESS', 'UNDERLAY', 'VERSION', 'OVS', 'HOLLOW'], ...agents.map((a) => [
            a.info?.name ?? '', a.connected ? 'yes' : 'no', a.info?.address ?? '', a.info?.underlayIp ?? '', a.info?.version ?? '', a.info?.ovsVersion || '-', a.info?.hollow ? 'yes' : 'no',
          ])]));
        }
        return 0;
      });
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

class UsageError extends MerakError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const grpc = e as Partial<ServiceError>;
    const message = typeof grpc.code === 'number' && grpc.details !== undefined ? grpc.details : errorMessage(e);
    process.stderr.write(`merak: ${message}\n${e instanceof UsageError ? `\n${HELP}` : ''}`);
    process.exitCode = e instanceof UsageError || e instanceof ConnectError || e instanceof InvalidArgumentError || e instanceof CompareArgumentError || e instanceof ReportFormatError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) ? 2 : 1;
  },
);
