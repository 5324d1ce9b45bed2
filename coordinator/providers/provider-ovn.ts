// OVN mode: the coordinator is OVN's CMS. Before any VM it writes the scenario's logical switches,
// routers and port groups (with their ACLs) into the northbound database; before each chunk of
// VMs goes to its agent it writes the chunk's logical switch ports in one transaction (and adds
// them to their port groups); the agent plugs each VM's port into the vhost's OVN bridge with
// external_ids:iface-id = the port's name, and the VM is ready once ovn-controller installed it.
// A monitor on the southbound Port_Binding table times, per VM, its NB write -> bound -> up on the
// coordinator's clock; those steps join the VM's own in its stored result. Teardown removes
// everything of the scenario, tolerant of what is gone, and lists what it could not.
import { performance } from 'node:perf_hooks';
import { errorMessage } from '@merak/common';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { CallStats } from '../report/call-stats.js';
import { OvnDatabase } from '../ovn/database.js';
import { OvnError } from '../ovn/errors.js';
import { type OvnNames, ovnNames, shortId, shortIdOfVmPort } from '../ovn/names.js';
import { type BindingChange, SbWatcher } from '../ovn/sb-watcher.js';
import { type Topology, topologyOf } from '../ovn/topology.js';
import { NbTopologyWriter } from '../ovn/writer.js';
import type { Plan, PlannedVm } from '../plan/index.js';
import type { EndpointLatency } from '../report/report.js';
import type { OvnSettings, Scenario } from '../scenario/index.js';
import type { Store } from '../store/store.js';
import { type ControlPlane, ControlPlaneError, type ControlPlaneFactory, type ControlPlaneStep, type ScenarioContext } from './provider.js';

export interface OvnDeps {
  /** Northbound for scenarios that give none (the coordinator's --ovn-nb). */
  readonly defaultNb: string | undefined;
  /** Southbound for scenarios that give none (--ovn-sb); none: bound/up are not timed. */
  readonly defaultSb: string | undefined;
  readonly store: Store;
  readonly logger: Logger;
  /** How long, after the fan-out, to wait for the southbound to report ready VMs' ports up (default 5000 ms). */
  readonly settleMs?: number;
}

/** Per VM of a scenario being created: what this coordinator timed (performance.now(); NaN = not seen). */
class VmTimes {
  readonly sent: Float64Array;
  readonly committed: Float64Array;
  readonly bound: Float64Array;
  readonly up: Float64Array;
  /** the agent answered ready */
  readonly ready: Uint8Array;
  /** the port is in the northbound database (written or found by this process) */
  readonly written: Uint8Array;

  constructor(readonly plan: Plan) {
    const n = plan.total;
    [this.sent, this.committed, this.bound, this.up] = [0, 1, 2, 3].map(() => new Float64Array(n).fill(NaN)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    this.ready = new Uint8Array(n);
    this.written = new Uint8Array(n);
  }

  /** A binding change of one of this scenario's ports; times count only from this process's write. */
  onBinding(vmId: string, c: BindingChange): void {
    const i = this.plan.indexOf(vmId);
    if (i === undefined || Number.isNaN(this.committed[i]!)) return;
    if (c.bound && Number.isNaN(this.bound[i]!)) this.bound[i] = c.at;
    if (c.up && Number.isNaN(this.up[i]!)) this.up[i] = c.at;
  }
}

interface Session {
  readonly settings: OvnSettings;
  readonly nbEndpoint: string;
  readonly sbEndpoint: string | undefined;
  readonly names: OvnNames;
  readonly topo: Topology;
  readonly nb: OvnDatabase;
  readonly writer: NbTopologyWriter;
  readonly stats: CallStats;
  /** set by setUp in this process (the writer knows the rows' uuids) */
  networkReady: boolean;
  /** while the scenario's VMs are being created */
  times: VmTimes | undefined;
  /** The northbound schema's version, read at set-up ('' when it could not be read): OVN tells no release of its own there. */
  nbSchema: string;
}

const DEFAULT_SETTLE_MS = 5000;

export function ovnControlPlane(deps: OvnDeps): ControlPlaneFactory {
  return () => create(deps);
}

function create(deps: OvnDeps): ControlPlane {
  const sessions = new Map<string, Session>();
  /** short id in port names -> scenario id */
  const byShort = new Map<string, string>();
  const watchers = new Map<string, Promise<SbWatcher>>();

  const session = (ctx: ScenarioContext): Session => {
    const known = sessions.get(ctx.id);
    if (known) return known;
    const settings = ctx.scenario.ovn;
    if (!settings) throw new ControlPlaneError(`scenario ${ctx.scenario.name} has no ovn settings`);
    const nbEndpoint = settings.nb ?? deps.defaultNb;
    if (nbEndpoint === undefined) throw new ControlPlaneError('ovn.nb: no northbound database (give ovn.nb in the scenario or start the coordinator with --ovn-nb)');
    const names = ovnNames(ctx.id);
    const topo = topologyOf(ctx.scenario, names);
    const stats = new CallStats();
    const nb = new OvnDatabase(nbEndpoint, 'OVN_Northbound', settings.timeoutMs);
    const made: Session = {
      settings, nbEndpoint, sbEndpoint: settings.sb ?? deps.defaultSb, names, topo, nb, writer: new NbTopologyWriter(nb, topo, stats), stats, networkReady: false, times: undefined, nbSchema: '',
    };
    sessions.set(ctx.id, made);
    byShort.set(shortId(ctx.id), ctx.id);
    return made;
  };

  const onBinding = (c: BindingChange): void => {
    const short = shortIdOfVmPort(c.logicalPort);
    const s = short === undefined ? undefined : sessions.get(byShort.get(short) ?? '');
    const vm = s?.names.vmOfPort(c.logicalPort);
    if (s?.times && vm !== undefined) s.times.onBinding(vm, c);
  };

  /** The southbound monitor for `endpoint`, started once and shared by every scenario on it. */
  const watch = (endpoint: string): Promise<SbWatcher> => {
    let w = watchers.get(endpoint);
    if (!w) {
      const sb = new OvnDatabase(endpoint, 'OVN_Southbound', 10_000);
      const watcher = new SbWatcher(endpoint, async () => {
        sb.drop();
        return sb.connected();
      }, onBinding, deps.logger);
      w = watcher.start().then(() => watcher);
      watchers.set(endpoint, w);
      w.catch(() => watchers.delete(endpoint));
    }
    return w;
  };

  const forget = (ctx: ScenarioContext, s: Session): void => {
    s.nb.close();
    sessions.delete(ctx.id);
    byShort.delete(shortId(ctx.id));
    // A southbound no scenario uses any more is let go.
    if (s.sbEndpoint !== undefined && ![...sessions.values()].some((x) => x.sbEndpoint === s.sbEndpoint)) {
      watchers.get(s.sbEndpoint)?.then((w) => w.close(), () => undefined);
      watchers.delete(s.sbEndpoint);
    }
  };

  return {
    check(scenario: Scenario) {
      if (scenario.provider !== 'ovn' || scenario.ovn?.nb !== undefined || deps.defaultNb !== undefined) return [];
      return [{ path: 'ovn.nb', message: 'no northbound database: give ovn.nb (tcp:HOST:PORT or unix:PATH) or start the coordinator with --ovn-nb' }];
    },

    async setUp(ctx) {
      const s = session(ctx);
      if (s.sbEndpoint !== undefined) {
        try {
          await watch(s.sbEndpoint);
        } catch (e) {
          throw new ControlPlaneError(`ovn.sb: cannot monitor the southbound database at ${s.sbEndpoint}: ${errorMessage(e)}`, [], { cause: e });
        }
      }
      const out = await s.writer.ensureNetwork();
      // For the report: a version is only a label there, so a failed read costs nothing but it.
      s.nbSchema = await s.nb.connected().then((c) => c.call('get_schema', ['OVN_Northbound'])).then((r) => {
        const v = (r as { version?: unknown } | null)?.version;
        return typeof v === 'string' ? v : '';
      }, () => '');
      for (const x of out.ids) deps.store.putControlPlaneObject(ctx.seq, `ovn-${x.kind}`, x.name, x.uuid);
      s.networkReady = true;
      s.times = new VmTimes(ctx.plan);
      const t = s.topo;
      ctx.logger.info({ scenario: ctx.id, nb: s.nbEndpoint, sb: s.sbEndpoint, made: out.made, switches: t.switches.length, routers: t.routers.length, portGroups: t.portGroups.length }, 'OVN network set up');
    },

    async prepareChunk(ctx, vms: readonly PlannedVm[], attempt: number) {
      const s = session(ctx);
      if (!s.networkReady || !s.times) throw new OvnError('MISSING', `scenario ${ctx.scenario.name}: its OVN network was not set up by this coordinator`);
      const times = s.times;
      const ports = vms.map((vm) => s.topo.vmPort(vm)).filter((p) => times.written[p.vmIndex] === 0);
      // A first try of a new scenario's chunk knows nothing exists; any other may find some.
      const out = await s.writer.writePorts(ports, attempt > 0 || ctx.resumed === true);
      for (const p of ports) times.written[p.vmIndex] = 1;
      for (const p of out.inserted) {
        times.sent[p.vmIndex] = out.sentAt;
        times.committed[p.vmIndex] = out.committedAt;
      }
    },

    decorate(ctx, vm: PlannedVm, spec: agentV1.VmSpec): void {
      const s = session(ctx);
      spec.ifaceId = s.names.vmPort(vm.id);
      spec.vni = 0;
      // One switch per VPC: its other subnets are on-link (as in standalone mode). Subnets joined by
      // a router: the default route via the gateway (the router's port) reaches them.
      spec.routes = !s.topo.routedVpcs.has(vm.vpc) && vm.vpcRoute ? [{ destination: `${vm.vpcRoute.destination}/${vm.vpcRoute.prefixLength}`, via: '' }] : [];
      spec.ovn = { timeoutMs: s.settings.timeoutMs };
    },

    observe(ctx, result: agentV1.VmResult): void {
      const times = sessions.get(ctx.id)?.times;
      const i = times?.plan.indexOf(result.id);
      if (times && i !== undefined && result.status === agentV1.VmStatus.VM_STATUS_READY) times.ready[i] = 1;
    },

    latency(scenarioId: string): EndpointLatency[] | undefined {
      return sessions.get(scenarioId)?.stats.summary();
    },

    version(scenarioId: string): string {
      const v = sessions.get(scenarioId)?.nbSchema;
      return v ? `northbound schema ${v}` : '';
    },

    async vmSteps(ctx) {
      const s = sessions.get(ctx.id);
      const out = new Map<number, ControlPlaneStep[]>();
      const t = s?.times;
      if (!s || !t) return out;
      if (s.sbEndpoint !== undefined) {
        // The southbound's word on a port may come a little after its agent's (both follow ovn-controller).
        const waiting = (): boolean => {
          for (let i = 0; i < t.plan.total; i++) if (t.ready[i] === 1 && !Number.isNaN(t.committed[i]!) && Number.isNaN(t.up[i]!)) return true;
          return false;
        };
        const deadline = performance.now() + (deps.settleMs ?? DEFAULT_SETTLE_MS);
        while (waiting() && performance.now() < deadline && !ctx.signal.aborted) await new Promise((r) => setTimeout(r, 50));
      }
      const us = (a: number, b: number): number => Math.max(0, Math.round((b - a) * 1000));
      for (let i = 0; i < t.plan.total; i++) {
        const committed = t.committed[i]!;
        if (Number.isNaN(committed)) continue;
        const steps: ControlPlaneStep[] = [{ step: 'nb-write', micros: us(t.sent[i]!, committed) }];
        if (!Number.isNaN(t.bound[i]!)) steps.push({ step: 'bound', micros: us(committed, t.bound[i]!) });
        if (!Number.isNaN(t.up[i]!)) steps.push({ step: 'up', micros: us(committed, t.up[i]!) });
        out.set(i, steps);
      }
      // Creation is over: the plan and the timings are let go.
      s.times = undefined;
      return out;
    },

    async tearDown(ctx) {
      const s = session(ctx);
      const leftovers = await s.writer.tearDown();
      for (const kind of ['switch', 'router', 'port-group']) {
        for (const o of deps.store.controlPlaneObjects(ctx.seq, `ovn-${kind}`)) deps.store.deleteControlPlaneObject(ctx.seq, o.kind, o.name);
      }
      forget(ctx, s);
      if (leftovers.length > 0) throw new ControlPlaneError(`could not remove everything of the scenario from OVN's northbound database (${leftovers.length} left)`, leftovers);
      ctx.logger.info({ scenario: ctx.id }, 'OVN network torn down');
    },

    close(): void {
      for (const s of sessions.values()) s.nb.close();
      for (const w of watchers.values()) w.then((x) => x.close(), () => undefined);
      watchers.clear();
    },
  };
}
