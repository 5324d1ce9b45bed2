// Alcor mode: Alcor is the control plane under test. Before any VM the coordinator registers the
// scenario's hosts in Alcor (one bulk call, each with the name its ports will be bound to) and
// makes the scenario's VPCs, subnets, security groups (their rules through the rules API, since
// Alcor ignores rules sent with the group) and routers, with the scenario's project and tenant;
// transient failures are retried (alcor.retries), each retry logged and counted in the report; each agent then has Alcor allocate and bind its VMs' ports (agent/alcor/). A host whose
// agent serves GoalState is registered with that server's address, and its VMs are ready only once
// Alcor's push programmed their ports there (so Alcor's data plane is tested too). Teardown runs
// the other way, tolerant of what is already gone, and says what it could not remove.
//
// Every id is derived from the scenario and the object's name, so a coordinator that restarts
// finds what it made; the ids are also recorded in the store.
import { type AlcorCall, errorMessage, forEachBounded } from '@merak/common';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type AlcorEndpoints, AlcorNetwork, type NodeInfo, type SecurityGroupRuleBody, alcorEndpoints } from '../alcor/alcor-network.js';
import { CallStats } from '../report/call-stats.js';
import { AlcorSetupError } from './alcor-setup-error.js';
import type { PlannedVm } from '../plan/index.js';
import type { EndpointLatency } from '../report/report.js';
import { type AlcorSettings, type Scenario, derivedUuid } from '../scenario/index.js';
import type { Store } from '../store/store.js';
import { type ControlPlane, ControlPlaneError, type ControlPlaneFactory, type LiveScenarios, type ScenarioContext } from './provider.js';

export interface AlcorDeps {
  /** Base URL for scenarios that give none (the coordinator's --alcor-url). */
  readonly defaultUrl: string | undefined;
  /** What the hosts' node records are made of: each agent's Info (addresses, underlay). */
  readonly agents: { clientFor(host: string): { info(): Promise<agentV1.InfoResponse> } | undefined };
  readonly store: Store;
  readonly logger: Logger;
  /**
   * The URL a scenario's agents are given for a control-plane URL when the scenario has
   * control-plane faults: the coordinator's fault proxy in front of it (faults/control-plane-proxy.ts).
   */
  readonly agentUrl?: (scenarioId: string, url: string) => string;
  /** Each call the coordinator makes to Alcor, as it ends (its metrics). */
  readonly onCall?: (c: AlcorCall) => void;
}

/** A locally administered MAC from a name (for hosts that have none to give, such as hollow ones). */
function derivedMac(name: string): string {
  const h = derivedUuid(`merak-mac/${name}`).replace(/-/g, '');
  return `02:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}`;
}

/** The node id of a host: one per host name, whatever the scenario (Alcor binds by node_name, so there must be one). */
export const nodeIdOf = (host: string): string => derivedUuid(`merak-node/${host}`);

interface Names {
  readonly vpc: (vpc: string) => string;
  readonly subnet: (vpc: string, subnet: string) => string;
  readonly sg: (name: string) => string;
  /** The `index`th rule of group `name` in the scenario. */
  readonly rule: (name: string, index: number) => string;
  readonly router: (name: string) => string;
  readonly port: (vmId: string) => string;
}

function namesOf(scenarioId: string): Names {
  return {
    vpc: (v) => derivedUuid(`${scenarioId}/vpc/${v}`),
    subnet: (v, s) => derivedUuid(`${scenarioId}/subnet/${v}/${s}`),
    sg: (g) => derivedUuid(`${scenarioId}/sg/${g}`),
    rule: (g, i) => derivedUuid(`${scenarioId}/sg/${g}/rule/${i}`),
    router: (r) => derivedUuid(`${scenarioId}/router/${r}`),
    port: (vm) => derivedUuid(`${scenarioId}/port/${vm}`),
  };
}

interface Session {
  readonly settings: AlcorSettings;
  readonly endpoints: AlcorEndpoints;
  /** The port service as the agents call it: through the fault proxy when the scenario has control-plane faults. */
  readonly agentPortUrl: string;
  readonly net: AlcorNetwork;
  readonly names: Names;
  readonly stats: CallStats;
  /** subnet key "vpc/subnet" -> its security group ids */
  readonly groups: Map<string, string[]>;
  /** Hosts whose agent serves GoalState (registered with its address): their VMs wait for the push. */
  readonly pushedTo: Set<string>;
}

/** Where a host's agent serves GoalState, from its Info (HOST:PORT; IPv6 hosts in brackets). */
export function goalStateEndpoint(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** A listen address that names no one interface (any), so another address must stand for the host. */
const isWildcard = (host: string): boolean => host === '' || host === '0.0.0.0' || host === '::';

/** Alcor's default port for a host agent's GoalState server (node server_port). */
const DEFAULT_GOALSTATE_PORT = 50001;

const HOST_INFO_PARALLELISM = 64;
const NODES_PER_CALL = 1000;

/** Group `name`'s rules as the rules API takes them, each with its id from the scenario. */
function rulesOf(s: Session, name: string, groupId: string, p: string, t: string, sc: Scenario): SecurityGroupRuleBody[] {
  const g = sc.securityGroups.find((x) => x.name === name);
  return (g?.rules ?? []).map((r, i) => ({
    id: s.names.rule(name, i), security_group_id: groupId, direction: r.direction, ethertype: r.ethertype, protocol: r.protocol ?? null,
    port_range_min: r.portRangeMin ?? null, port_range_max: r.portRangeMax ?? null, remote_ip_prefix: r.remoteIpPrefix ?? null,
    remote_group_id: null, tenant_id: t, project_id: p,
  }));
}

export function alcorControlPlane(deps: AlcorDeps): ControlPlaneFactory {
  return (live) => create(deps, live);
}

function create(deps: AlcorDeps, live: LiveScenarios): ControlPlane {
  const sessions = new Map<string, Session>();

  const session = (ctx: ScenarioContext): Session => {
    const known = sessions.get(ctx.id);
    if (known) return known;
    const settings = ctx.scenario.alcor;
    if (!settings) throw new ControlPlaneError(`scenario ${ctx.scenario.name} has no alcor settings`);
    const endpoints = alcorEndpoints(settings.url ?? deps.defaultUrl, settings.endpoints);
    if (typeof endpoints === 'string') throw new ControlPlaneError(endpoints);
    const stats = new CallStats();
    const net = new AlcorNetwork(endpoints, {
      timeoutMs: settings.timeoutMs, retries: settings.retries, onCall: (c) => { stats.add(c); deps.onCall?.(c); },
      onRetry: (r) => ctx.logger.warn({ scenario: ctx.id, endpoint: r.endpoint, attempt: r.attempt, retries: r.retries, delayMs: r.delayMs, status: r.status, reason: r.reason }, 'Alcor call failed; retrying'),
    });
    const names = namesOf(ctx.id);
    const groups = new Map<string, string[]>();
    for (const v of ctx.scenario.vpcs) for (const s of v.subnets) groups.set(`${v.name}/${s.name}`, s.securityGroups.map((g) => names.sg(g)));
    const proxied = deps.agentUrl && ctx.scenario.faults.some((f) => f.kind === 'control-plane-errors' || f.kind === 'control-plane-delay');
    const agentPortUrl = proxied ? deps.agentUrl!(ctx.id, endpoints.port) : endpoints.port;
    const made: Session = { settings, endpoints, agentPortUrl, net, names, stats, groups, pushedTo: new Set() };
    sessions.set(ctx.id, made);
    return made;
  };

  const record = (ctx: ScenarioContext, kind: string, name: string, id: string): void => deps.store.putControlPlaneObject(ctx.seq, kind, name, id);

  /**
   * Each host's node record, from its agent's Info: its name, its address, its underlay, and where
   * Alcor pushes its GoalState (the agent's own GoalState server when it runs one). `pushedTo`
   * gets the hosts whose agent serves GoalState.
   */
  async function nodeInfos(hosts: readonly string[], pushedTo: Set<string>): Promise<NodeInfo[]> {
    const out: NodeInfo[] = [];
    const problems: string[] = [];
    // A host's problem is recorded, not thrown: every host is asked, and all problems are told at once.
    await forEachBounded(hosts, HOST_INFO_PARALLELISM, async (host) => {
      const client = deps.agents.clientFor(host);
      if (!client) {
        problems.push(`${host}: not connected`);
        return;
      }
      try {
        const info = await client.info();
        // The underlay carries the data plane; without one, the first IPv4 address that is not
        // loopback. A hollow agent has no interfaces: its --underlay-ip stands for its address.
        const nic = info.addresses.find((a) => a.address.split('/')[0] === info.underlayIp)
          ?? info.addresses.find((a) => !a.address.startsWith('127.'))
          ?? (info.underlayIp ? { interface: 'eth0', address: info.underlayIp, mac: '' } : undefined);
        if (!nic) {
          problems.push(`${host}: no IPv4 address to register (a hollow agent needs --underlay-ip)`);
          return;
        }
        const ip = nic.address.split('/')[0]!;
        let goalState: { host: string; port: number } | undefined;
        if (info.goalstateAddress !== '') {
          goalState = goalStateEndpoint(info.goalstateAddress);
          if (!goalState) {
            problems.push(`${host}: its GoalState address '${info.goalstateAddress}' is not HOST:PORT`);
            return;
          }
          pushedTo.add(host);
        } else pushedTo.delete(host);
        out.push({
          node_id: nodeIdOf(host), node_name: host, local_ip: goalState && !isWildcard(goalState.host) ? goalState.host : ip, 'data-path-ip': info.underlayIp || ip,
          mac_address: nic.mac || derivedMac(host), veth: nic.interface, server_port: goalState?.port ?? DEFAULT_GOALSTATE_PORT,
        });
      } catch (e) {
        problems.push(`${host}: ${errorMessage(e)}`);
      }
    });
    if (problems.length > 0) throw new ControlPlaneError('could not describe every host to Alcor', problems);
    return out.sort((a, b) => a.node_name.localeCompare(b.node_name, 'en', { numeric: true }));
  }

  return {
    // Alcor allocates each port's address; the plan's are only asked for.
    allocatesAddresses: true,
    async setUp(ctx) {
      const s = session(ctx);
      const p = s.settings.projectId;
      const t = s.settings.tenantId;
      const sc: Scenario = ctx.scenario;
      const nodes = await nodeInfos(ctx.plan.hosts, s.pushedTo);
      // Each step names what it makes, so a failure says which object and what Alcor answered.
      const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
        try {
          return await fn();
        } catch (e) {
          throw new AlcorSetupError(what, e);
        }
      };
      for (let i = 0; i < nodes.length; i += NODES_PER_CALL) await step(`nodes ${i + 1}-${Math.min(nodes.length, i + NODES_PER_CALL)}`, () => s.net.registerNodes(nodes.slice(i, i + NODES_PER_CALL)));
      for (const n of nodes) record(ctx, 'node', n.node_name, n.node_id);
      for (const v of sc.vpcs) {
        const vpcId = s.names.vpc(v.name);
        await step(`vpc ${v.name}`, () => s.net.ensureVpc(p, { id: vpcId, name: v.name, cidr: v.cidr, tenantId: t, mtu: sc.vm.mtu }));
        record(ctx, 'vpc', v.name, vpcId);
        for (const sub of v.subnets) {
          const id = s.names.subnet(v.name, sub.name);
          await step(`subnet ${v.name}/${sub.name}`, () => s.net.ensureSubnet(p, { id, name: sub.name, cidr: sub.cidr, gateway: sub.gateway, vpcId, tenantId: t }));
          record(ctx, 'subnet', `${v.name}/${sub.name}`, id);
        }
      }
      for (const g of sc.securityGroups) {
        const id = s.names.sg(g.name);
        await step(`security group ${g.name}`, () => s.net.ensureSecurityGroup(p, { id, name: g.name, description: g.description, tenantId: t }));
        record(ctx, 'sg', g.name, id);
        const rules = rulesOf(s, g.name, id, p, t, sc);
        if (rules.length > 0) await step(`security group ${g.name} rules`, () => s.net.ensureSecurityGroupRules(p, id, rules));
      }
      for (const r of sc.routers) {
        const id = s.names.router(r.name);
        await step(`router ${r.name}`, () => s.net.ensureRouter(p, { id, name: r.name, tenantId: t }));
        record(ctx, 'router', r.name, id);
        for (const sub of r.subnets) await step(`router ${r.name} interface ${r.vpc}/${sub}`, () => s.net.attachSubnet(p, id, s.names.subnet(r.vpc, sub)));
      }
      ctx.logger.info({ scenario: ctx.id, nodes: nodes.length, vpcs: sc.vpcs.length, securityGroups: sc.securityGroups.length, routers: sc.routers.length }, 'Alcor network set up');
    },

    decorate(ctx, vm: PlannedVm, spec: agentV1.VmSpec): void {
      const s = session(ctx);
      const portId = s.names.port(vm.id);
      spec.ip = '';
      spec.mac = '';
      spec.vni = 0;
      spec.routes = [];
      spec.portKind = agentV1.PortKind.PORT_KIND_INTERNAL;
      spec.portName = `tap${portId.slice(0, 11)}`;
      spec.alcor = {
        portUrl: s.agentPortUrl, projectId: s.settings.projectId, tenantId: s.settings.tenantId, networkId: s.names.vpc(vm.vpc),
        subnetId: s.names.subnet(vm.vpc, vm.subnet), securityGroupIds: s.groups.get(`${vm.vpc}/${vm.subnet}`) ?? [], portId, hostId: vm.host,
        timeoutMs: s.settings.timeoutMs, retries: s.settings.retries, awaitGoalstate: s.settings.awaitGoalState && s.pushedTo.has(vm.host),
      };
    },

    observe(ctx, result: agentV1.VmResult): void {
      const s = session(ctx);
      s.stats.addVmCalls(result.apiCalls);
    },

    latency(scenarioId: string): EndpointLatency[] | undefined {
      return sessions.get(scenarioId)?.stats.summary();
    },

    async tearDown(ctx) {
      const s = session(ctx);
      const p = s.settings.projectId;
      const sc = ctx.scenario;
      const leftovers: string[] = [];
      const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
        try {
          await fn();
        } catch (e) {
          leftovers.push(`${what}: ${errorMessage(e)}`);
        }
      };
      // Ports the agents could not release (an agent gone for good): swept by their device_id.
      const names = new Set(Array.from({ length: ctx.plan.total }, (_, i) => ctx.plan.vm(i).name));
      await step('ports', async () => {
        for (const port of await s.net.portsOf(p, names)) await step(`port ${port.id} (${port.device_id})`, () => s.net.deletePort(p, port.id));
      });
      for (const r of sc.routers) {
        const id = s.names.router(r.name);
        for (const sub of r.subnets) await step(`router ${r.name} interface ${r.vpc}/${sub}`, () => s.net.detachSubnet(p, id, s.names.subnet(r.vpc, sub)));
        await step(`router ${r.name}`, async () => {
          await s.net.deleteRouter(p, id);
          deps.store.deleteControlPlaneObject(ctx.seq, 'router', r.name);
        });
      }
      for (const v of sc.vpcs) {
        for (const sub of v.subnets) {
          await step(`subnet ${v.name}/${sub.name}`, async () => {
            await s.net.deleteSubnet(p, s.names.subnet(v.name, sub.name));
            deps.store.deleteControlPlaneObject(ctx.seq, 'subnet', `${v.name}/${sub.name}`);
          });
        }
        await step(`vpc ${v.name}`, async () => {
          await s.net.deleteVpc(p, s.names.vpc(v.name));
          deps.store.deleteControlPlaneObject(ctx.seq, 'vpc', v.name);
        });
      }
      for (const g of sc.securityGroups) {
        // Its rules first, through the rules API that made them (deleting the group would take them too).
        const rules = rulesOf(s, g.name, s.names.sg(g.name), p, s.settings.tenantId, sc);
        for (const rule of rules) await step(`security group ${g.name} rule ${rule.id}`, () => s.net.deleteSecurityGroupRule(p, rule.id));
        await step(`security group ${g.name}`, async () => {
          await s.net.deleteSecurityGroup(p, s.names.sg(g.name));
          deps.store.deleteControlPlaneObject(ctx.seq, 'sg', g.name);
        });
      }
      // A host stays registered while another live Alcor scenario uses it.
      const stillUsed = live.liveHosts('alcor', ctx.id);
      for (const host of ctx.plan.hosts) {
        if (stillUsed.has(host)) continue;
        await step(`node ${host}`, async () => {
          await s.net.deleteNode(nodeIdOf(host));
          deps.store.deleteControlPlaneObject(ctx.seq, 'node', host);
        });
      }
      if (leftovers.length > 0) throw new ControlPlaneError(`could not remove everything from Alcor (${leftovers.length} left)`, leftovers);
      ctx.logger.info({ scenario: ctx.id }, 'Alcor network torn down');
    },
  };
}
