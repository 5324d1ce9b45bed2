// A local multi-vhost emulation: N vhosts, each like a Kubernetes pod (its own network namespace,
// its own ovsdb-server + ovs-vswitchd on the userspace datapath, its own agent process), joined by
// an underlay (a Linux bridge in the root namespace, a veth per vhost), each agent owning its
// underlay (--underlay-interface eth0) and registered with a coordinator over a unix socket (not
// over the underlay, which goes down whenever a vswitchd restarts: docs/data-plane.md §2).
// With OVN on, also OVN central in its own namespace on the underlay and an ovn-controller per
// vhost beside its OVS (ovn-central.ts, ovn-controller.ts).
// Everything is recorded in the state folder, and teardownLocalEmulation removes it from any process.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage, forEachBounded } from '@merak/common';
import type { AgentClient } from '../agent-client/agent-client.js';
import { type EmulationState, type VhostRecord, statePath, writeState } from './emulation-state.js';
import { type TeardownReport, teardownLocalEmulation } from './emulation-teardown.js';
import { type OvnCentralRecord, ovnCentralRecord, startOvnCentral } from './ovn-central.js';
import { configureChassis, ovnControllerLog, resolveTunnelPeers, startOvnController, waitForChassis } from './ovn-controller.js';
import { OvnStartError, ovnMissing } from './ovn-daemon.js';
import { type ProcessRecord, recordOf } from './process-record.js';
import { addBridgeAddress, chooseUnderlay, connectVhost, createUnderlayBridge, hostUnderlayAddress, linkExists, underlayAddress } from './underlay-network.js';
import { ensureNeighbourTable } from './kernel-tuning.js';
import { type LocalVhost, type LocalVhostOptions, startLocalVhost } from './vhost.js';
import { agentGroupRecord, groupIndexes, groupedAgentArgs, recordGroupProcess, startGroupedVhosts } from './agent-groups.js';

export { type TeardownReport, teardownLocalEmulation } from './emulation-teardown.js';

/** Where Alcor's NCM dials a host agent (its node server_port default). */
const GOALSTATE_PORT = 50001;
/** The NCM port of the Alcor-compatible server (test/alcor, --ncm-port) by default. */
export const ALCOR_NCM_PORT = 9016;

export interface LocalEmulationOptions {
  /** Short name prefix ([a-z][a-z0-9]*): every namespace, link and folder name derives from it. */
  readonly prefix: string;
  /** How many vhosts (>= 1). */
  readonly hosts: number;
  /** Where everything of this emulation lives (made if missing; must hold no other emulation). */
  readonly stateDir: string;
  /** The coordinator the agents register with, e.g. unix:/path/coordinator.sock; omitted = none. */
  readonly coordinator?: string;
  /** The agents' bearer token, in a file; default: a fresh one in the state folder. */
  readonly tokenFile?: string;
  /** The underlay network; default: the first TEST-NET range no root-namespace route overlaps. */
  readonly underlayCidr?: string;
  /** Extra flags for every agent. */
  readonly agentArgs?: readonly string[];
  /**
   * Give this machine an address on the underlay (its last address), as a node has one on its
   * pods' network: vhosts then reach services that run here, such as Alcor. It adds the
   * underlay's connected route to the root namespace (removed with the bridge). Default off.
   */
  readonly hostAccess?: boolean;
  /**
   * Every agent serves Alcor's GoalState on 0.0.0.0:50001 of its vhost (--goalstate), and with host
   * access asks the NCM here for its state after a restart (--alcor-ncm). Default true.
   */
  readonly goalState?: boolean;
  /**
   * Agents per process (default 1: each vhost's agent in its own process, inside its namespace).
   * More: consecutive vhosts share an agent process in the root namespace (agent-groups.ts), which
   * saves a Node runtime per vhost; killing it crashes every member's agent.
   */
  readonly agentsPerProcess?: number;
  /** Told what machine-wide kernel settings were raised (see kernel-tuning.ts). */
  readonly onTuning?: (changes: readonly string[]) => void;
  /**
   * OVN too: OVN central (NB, SB, northd) in its own namespace `<prefix>-ovn` on the underlay (the
   * address after the vhosts'), and an ovn-controller per vhost (chassis = the vhost's name,
   * Geneve from its underlay address, integration bridge br-ovn). Default off.
   */
  readonly ovn?: boolean;
  /** Extra flags for every ovn-controller (tests: an impossible one, to see a failed start rolled back). */
  readonly ovnControllerArgs?: readonly string[];
  /** How long the vhosts' chassis may take to appear in SB (default 30 s). */
  readonly ovnReadyTimeoutMs?: number;
  /**
   * Runs once the underlay (and OVN central) is up, before the vhosts start: `local up` starts the
   * coordinator here, so that it finds OVN's databases at its start. A failure rolls everything back.
   */
  readonly beforeVhosts?: (ovn: LocalOvn | undefined, hostIp: string | undefined) => Promise<void>;
}

/** OVN central of an emulation: where to reach it, what runs. */
export interface LocalOvn {
  /** NB: unix:PATH (from this machine) and tcp:IP:6641 (on the underlay). */
  readonly nb: string;
  readonly nbTcp: string;
  /** SB: unix:PATH and tcp:IP:6642. */
  readonly sb: string;
  readonly sbTcp: string;
  /** Its network namespace and underlay address. */
  readonly netns: string;
  readonly underlayIp: string;
  /** Its folder: databases, sockets, logs (nb.log, sb.log, ovn-northd.log), pid files. */
  readonly dir: string;
  /** ovn-northd's control socket (ovn-appctl -t PATH status). */
  readonly northdCtl: string;
  readonly pids: { readonly nb: number; readonly sb: number; readonly northd: number };
}

export interface EmulatedVhost {
  /** `<prefix>-vhost-<i>`, also its network namespace's name and its agent's --vhost. */
  readonly name: string;
  readonly index: number;
  readonly underlayIp: string;
  /** unix:PATH of the agent's gRPC server. */
  readonly grpcAddress: string;
  /** The agent's HTTP unix socket (/healthz, /readyz, /metrics). */
  readonly httpSocket: string;
  /** The vhost's OVSDB unix socket (ovs-vsctl --db=unix:…). */
  readonly dbSocket: string;
  /** Its folder in the state folder (OVS files, agent log). */
  readonly dir: string;
  /** A client of its agent (a new one after restartAgent). */
  readonly client: AgentClient;
  /** The agent process's PID. */
  readonly agentPid: number;
  /** SIGKILL to the agent (a crash). */
  killAgent(): Promise<void>;
  /** Starts the agent again (SIGTERM first if it runs) and reconnects `client`. */
  restartAgent(): Promise<void>;
  /** ovs-vswitchd's PID. */
  readonly vswitchdPid: number;
  /** SIGKILL to ovs-vswitchd (a crash) and the same command line again, in the vhost's namespace; the record follows. */
  restartVswitchd(): Promise<void>;
  /** Its ovn-controller's PID (OVN on), else undefined; logs to <dir>/ovs/ovn-controller.log. */
  readonly ovnControllerPid: number | undefined;
}

export interface LocalEmulation {
  readonly prefix: string;
  readonly stateDir: string;
  /** The underlay bridge in the root namespace. */
  readonly bridge: string;
  readonly underlayCidr: string;
  /** This machine's address on the underlay (with hostAccess), else undefined. */
  readonly hostIp: string | undefined;
  readonly tokenFile: string;
  readonly token: string;
  readonly vhosts: readonly EmulatedVhost[];
  /** OVN central (with `ovn: true`), else undefined. */
  readonly ovn: LocalOvn | undefined;
  /** Removes everything (teardownLocalEmulation on the state folder). */
  stop(): Promise<TeardownReport>;
}

const IFNAMSIZ = 15;
const UNIX_PATH_MAX = 107;
// No IPv6 inside a vhost: its link-local chatter would only flood the underlay.
const VHOST_SYSCTLS: Array<[string, string]> = [['net.ipv6.conf.all.disable_ipv6', '1'], ['net.ipv6.conf.default.disable_ipv6', '1']];
const START_PARALLELISM = 4;

export const vhostName = (prefix: string, i: number): string => `${prefix}-vhost-${i}`;
export const bridgeName = (prefix: string): string => `${prefix}-br`;
export const hostVethName = (prefix: string, i: number): string => `${prefix}-u${i}`;
/** ovn-controller's control socket at its longest (a PID up to pid_max 4194304). */
const LONGEST_CONTROLLER_CTL = 'ovn-controller.4194304.ctl';

function validate(o: LocalEmulationOptions): void {
  if (!/^[a-z][a-z0-9]*$/.test(o.prefix)) throw new Error(`prefix: '${o.prefix}' must be [a-z][a-z0-9]* (it starts every name)`);
  if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new Error(`hosts: ${o.hosts} is not an integer >= 1`);
  const per = o.agentsPerProcess ?? 1;
  if (!Number.isInteger(per) || per < 1 || per > 1000) throw new Error(`agentsPerProcess: ${per} is not an integer in 1..1000`);
  for (const name of [bridgeName(o.prefix), hostVethName(o.prefix, o.hosts - 1), ...(o.ovn ? [ovnCentralRecord('', o.prefix, '').hostVeth] : [])]) {
    if (Buffer.byteLength(name) > IFNAMSIZ) throw new Error(`prefix: '${o.prefix}' is too long: interface name ${name} exceeds ${IFNAMSIZ} bytes`);
  }
  const longest = join(resolve(o.stateDir), vhostName(o.prefix, o.hosts - 1), 'ovs', o.ovn ? LONGEST_CONTROLLER_CTL : 'ovsdb-server.ctl');
  if (Buffer.byteLength(longest) > UNIX_PATH_MAX) throw new Error(`stateDir: '${o.stateDir}' is too long for unix socket paths (${longest} exceeds ${UNIX_PATH_MAX} bytes)`);
}

function vhostRecord(stateDir: string, prefix: string, i: number, underlayIp: string): VhostRecord {
  const name = vhostName(prefix, i);
  const dir = join(stateDir, name);
  // The same paths startLocalVhost uses (checked after it starts).
  return {
    name, netns: name, dir, hostVeth: hostVethName(prefix, i), underlayIp,
    dbSocket: join(dir, 'ovs', 'db.sock'), dbFile: join(dir, 'ovs', 'conf.db'),
    grpcAddress: `unix:${join(dir, 'agent.sock')}`, httpSocket: join(dir, 'agent-http.sock'), processes: {},
  };
}

export async function startLocalEmulation(options: LocalEmulationOptions): Promise<LocalEmulation> {
  if (process.getuid?.() !== 0) throw new Error('a local emulation needs root (network namespaces, veths, a bridge, Open vSwitch)');
  validate(options);
  const stateDir = resolve(options.stateDir);
  if (existsSync(statePath(stateDir))) {
    throw new Error(`stateDir: ${stateDir} already records an emulation (${statePath(stateDir)}); tear it down first (teardownLocalEmulation)`);
  }
  // Before anything is made: OVN's programs are there (scripts/ensure-deps.sh installs them).
  const missing = options.ovn ? ovnMissing() : undefined;
  if (missing) throw new OvnStartError(missing);
  const cidr = chooseUnderlay(options.underlayCidr);
  const { prefix } = options;
  const bridge = bridgeName(prefix);
  const records = Array.from({ length: options.hosts }, (_, i) => vhostRecord(stateDir, prefix, i, underlayAddress(cidr, i)));
  const central = options.ovn ? ovnCentralRecord(stateDir, prefix, ovnCentralAddress(cidr, options)) : undefined;
  // Nothing of these names may exist yet: the teardown removes what the record names.
  const taken = [
    ...(linkExists(bridge) ? [bridge] : []),
    ...(central && existsSync(`/run/netns/${central.netns}`) ? [`namespace ${central.netns}`] : []),
    ...(central && linkExists(central.hostVeth) ? [central.hostVeth] : []),
    ...records.filter((r) => existsSync(`/run/netns/${r.netns}`)).map((r) => `namespace ${r.netns}`),
    ...records.filter((r) => linkExists(r.hostVeth)).map((r) => r.hostVeth),
  ];
  if (taken.length > 0) throw new Error(`prefix: '${prefix}' is in use (${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}); pick another prefix or tear the old emulation down`);

  mkdirSync(stateDir, { recursive: true });
  let tokenFile = options.tokenFile === undefined ? undefined : resolve(options.tokenFile);
  if (tokenFile === undefined) {
    tokenFile = join(stateDir, 'agent.token');
    writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  }
  const token = readFileSync(tokenFile, 'utf8').trim();
  const per = options.agentsPerProcess ?? 1;
  const groups = per === 1 ? [] : groupIndexes(records.length, per).map((ix, g) => agentGroupRecord(stateDir, g, ix.map((i) => records[i]!.name)));
  const state: EmulationState = {
    version: 1, prefix, stateDir, bridge, underlayCidr: cidr.text, tokenFile, coordinator: options.coordinator,
    createdAtUnixMs: Date.now(), vhosts: records, ...(central ? { ovn: central } : {}), ...(groups.length > 0 ? { agentGroups: groups } : {}),
  };
  writeState(state);

  const started: LocalVhost[] = [];
  const record = (rec: VhostRecord | OvnCentralRecord, kind: string, pid: number): void => {
    const r = recordOf(pid);
    if (r) (rec.processes as Record<string, ProcessRecord>)[kind] = r;
    writeState(state);
  };
  let ovn: LocalOvn | undefined;
  try {
    const tuned = ensureNeighbourTable();
    if (tuned.length > 0) options.onTuning?.(tuned);
    createUnderlayBridge(bridge);
    if (options.hostAccess) addBridgeAddress(bridge, hostUnderlayAddress(cidr), cidr.prefixLength);
    if (central) {
      await startOvnCentral(central, { bridge, prefixLength: cidr.prefixLength, sysctls: VHOST_SYSCTLS, onProcess: (kind, pid) => record(central, kind, pid) });
      ovn = localOvn(central);
    }
    await options.beforeVhosts?.(ovn, options.hostAccess ? hostUnderlayAddress(cidr) : undefined);
    const agentArgs = [
      '--underlay-interface', 'eth0',
      ...(options.coordinator === undefined ? [] : ['--coordinator', options.coordinator]),
      // Each agent stands in for Alcor's host agent on its vhost (its own namespace, so one port
      // for all); with host access, an NCM running here is asked for its state after a restart.
      ...(options.goalState === false ? [] : ['--goalstate', `0.0.0.0:${GOALSTATE_PORT}`]),
      ...(options.goalState !== false && options.hostAccess ? ['--alcor-ncm', `${hostUnderlayAddress(cidr)}:${ALCOR_NCM_PORT}`] : []),
      ...(options.agentArgs ?? []),
    ];
    const vhostOptions = (rec: VhostRecord): LocalVhostOptions => ({
      name: rec.name, dir: rec.dir, tokenFile, sysctls: VHOST_SYSCTLS, agentArgs,
      prepare: async (netns) => connectVhost(bridge, rec.hostVeth, netns, rec.underlayIp, cidr.prefixLength),
    });
    const checkPaths = (rec: VhostRecord, lv: Pick<LocalVhost, 'grpcAddress' | 'dbSocket' | 'httpSocket'>): void => {
      if (lv.grpcAddress !== rec.grpcAddress || lv.dbSocket !== rec.dbSocket || lv.httpSocket !== rec.httpSocket) {
        throw new Error(`vhost ${rec.name}: its paths differ from the recorded ones (launcher bug)`);
      }
    };
    // After the agent: it has put eth0 into br-phy with the underlay address, the tunnels' source.
    const startChassis = async (rec: VhostRecord): Promise<void> => {
      if (!central) return;
      await configureChassis(rec.dbSocket, { name: rec.name, encapIp: rec.underlayIp, sbRemote: central.sb.unix });
      record(rec, 'ovnController', await startOvnController({
        netns: rec.netns, ovsDir: join(rec.dir, 'ovs'), dbSocket: rec.dbSocket, ...(options.ovnControllerArgs ? { extraArgs: options.ovnControllerArgs } : {}),
      }));
    };
    if (groups.length === 0) {
      await forEachBounded(records, START_PARALLELISM, async (rec) => {
        const lv = await startLocalVhost(vhostOptions(rec));
        started[records.indexOf(rec)] = lv;
        rec.agentArgs = lv.agentArgs;
        record(rec, 'ovsdbServer', lv.ovsPids.ovsdbServer);
        record(rec, 'vswitchd', lv.ovsPids.vswitchd);
        record(rec, 'agent', lv.agent.pid);
        checkPaths(rec, lv);
        await startChassis(rec);
      });
    } else {
      const lvs = await startGroupedVhosts({
        vhosts: records.map(vhostOptions), groups, parallelism: START_PARALLELISM,
        onNode: (i, node) => {
          const rec = records[i]!;
          rec.agentArgs = groupedAgentArgs(node);
          record(rec, 'ovsdbServer', node.ovs.pids.ovsdbServer);
          record(rec, 'vswitchd', node.ovs.pids.vswitchd);
        },
        onGroupSpawn: (g, pid) => {
          const r = recordOf(pid);
          if (r) recordGroupProcess(g, records, r);
          writeState(state);
        },
      });
      lvs.forEach((lv, i) => { started[i] = lv; checkPaths(records[i]!, lv); });
      await forEachBounded(records, START_PARALLELISM, startChassis);
    }
    if (central) {
      await waitForChassis(central.sb.unix, records.map((r) => ({
        name: r.name, encapIp: r.underlayIp, process: r.processes.ovnController!, logFile: ovnControllerLog(join(r.dir, 'ovs')),
      })), options.ovnReadyTimeoutMs ?? 30_000);
      await resolveTunnelPeers(records.map((r) => ({ netns: r.netns, underlayIp: r.underlayIp })));
    }
  } catch (e) {
    for (const lv of started) lv?.client.close();
    const report = await teardownLocalEmulation(stateDir);
    const left = report.failed.length > 0 ? `; teardown could not remove: ${report.failed.map((f) => `${f.what} (${f.error})`).join('; ')}` : '';
    throw new Error(`local emulation ${prefix}: ${errorMessage(e)}${left}`, { cause: e });
  }

  const vhosts: EmulatedVhost[] = records.map((rec, i) => {
    const lv = started[i]!;
    return {
      name: rec.name, index: i, underlayIp: rec.underlayIp, grpcAddress: rec.grpcAddress, httpSocket: rec.httpSocket, dbSocket: rec.dbSocket, dir: rec.dir,
      get client() { return lv.client; },
      get agentPid() { return lv.agent.pid; },
      killAgent: () => lv.agent.kill(),
      async restartAgent() {
        await lv.restartAgent();
        // A group's restart recorded its new process for every member (onGroupSpawn).
        if (groups.length === 0) record(rec, 'agent', lv.agent.pid);
      },
      get vswitchdPid() { return lv.ovsPids.vswitchd; },
      async restartVswitchd() {
        // Recorded right away, so a teardown from another process stops the new one.
        record(rec, 'vswitchd', await lv.restartVswitchd());
      },
      ovnControllerPid: rec.processes.ovnController?.pid,
    };
  });
  return {
    prefix, stateDir, bridge, underlayCidr: cidr.text, hostIp: options.hostAccess ? hostUnderlayAddress(cidr) : undefined, tokenFile, token, vhosts, ovn,
    async stop() {
      for (const lv of started) lv.client.close();
      return teardownLocalEmulation(stateDir);
    },
  };
}

/** OVN central's underlay address: the one after the vhosts' (never this machine's, with hostAccess). */
function ovnCentralAddress(cidr: ReturnType<typeof chooseUnderlay>, o: LocalEmulationOptions): string {
  const ip = underlayAddress(cidr, o.hosts);
  if (o.hostAccess && ip === hostUnderlayAddress(cidr)) throw new Error(`underlayCidr: ${cidr.text} has no room for OVN central beside ${o.hosts} vhosts and this machine`);
  return ip;
}

function localOvn(c: OvnCentralRecord): LocalOvn {
  const pid = (r: ProcessRecord | undefined): number => r?.pid ?? 0;
  return {
    nb: c.nb.unix, nbTcp: c.nb.tcp, sb: c.sb.unix, sbTcp: c.sb.tcp, netns: c.netns, underlayIp: c.underlayIp, dir: c.dir, northdCtl: c.northdCtl,
    pids: { nb: pid(c.processes.nb), sb: pid(c.processes.sb), northd: pid(c.processes.northd) },
  };
}
