// A local multi-vhost emulation: N vhosts, each like a Kubernetes pod (its own network namespace,
// its own ovsdb-server + ovs-vswitchd on the userspace datapath, its own agent process), joined by
// an underlay (a Linux bridge in the root namespace, a veth per vhost), each agent owning its
// underlay (--underlay-interface eth0) and registered with a coordinator over a unix socket (not
// over the underlay, which goes down whenever a vswitchd restarts: docs/data-plane.md §2).
// Everything is recorded in the state folder, and teardownLocalEmulation removes it from any process.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage } from '@merak/agent';
import { netnsDelete } from '@merak/native';
import type { AgentClient } from '../agent-client/agent-client.js';
import { type EmulationState, type VhostRecord, readState, statePath, writeState } from './emulation-state.js';
import { type ProcessRecord, isRunning, processesInNetns, recordOf, stopRecorded } from './process-record.js';
import { vmsFromDbFile, vmsFromMarkedLinks, vmsFromOvsdb } from './recorded-vms.js';
import { addBridgeAddress, chooseUnderlay, connectVhost, createUnderlayBridge, deleteLink, hostUnderlayAddress, linkExists, underlayAddress } from './underlay-network.js';
import { ensureNeighbourTable } from './kernel-tuning.js';
import { type LocalVhost, startLocalVhost } from './vhost.js';

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
  /** Told what machine-wide kernel settings were raised (see kernel-tuning.ts). */
  readonly onTuning?: (changes: readonly string[]) => void;
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
}

export interface TeardownReport {
  readonly removed: readonly string[];
  readonly failed: ReadonlyArray<{ readonly what: string; readonly error: string }>;
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

function validate(o: LocalEmulationOptions): void {
  if (!/^[a-z][a-z0-9]*$/.test(o.prefix)) throw new Error(`prefix: '${o.prefix}' must be [a-z][a-z0-9]* (it starts every name)`);
  if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new Error(`hosts: ${o.hosts} is not an integer >= 1`);
  for (const name of [bridgeName(o.prefix), hostVethName(o.prefix, o.hosts - 1)]) {
    if (Buffer.byteLength(name) > IFNAMSIZ) throw new Error(`prefix: '${o.prefix}' is too long: interface name ${name} exceeds ${IFNAMSIZ} bytes`);
  }
  const longest = join(resolve(o.stateDir), vhostName(o.prefix, o.hosts - 1), 'ovs', 'ovsdb-server.ctl');
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

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

export async function startLocalEmulation(options: LocalEmulationOptions): Promise<LocalEmulation> {
  if (process.getuid?.() !== 0) throw new Error('a local emulation needs root (network namespaces, veths, a bridge, Open vSwitch)');
  validate(options);
  const stateDir = resolve(options.stateDir);
  if (existsSync(statePath(stateDir))) {
    throw new Error(`stateDir: ${stateDir} already records an emulation (${statePath(stateDir)}); tear it down first (teardownLocalEmulation)`);
  }
  const cidr = chooseUnderlay(options.underlayCidr);
  const { prefix } = options;
  const bridge = bridgeName(prefix);
  const records = Array.from({ length: options.hosts }, (_, i) => vhostRecord(stateDir, prefix, i, underlayAddress(cidr, i)));
  // Nothing of these names may exist yet: the teardown removes what the record names.
  const taken = [
    ...(linkExists(bridge) ? [bridge] : []),
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
  const state: EmulationState = {
    version: 1, prefix, stateDir, bridge, underlayCidr: cidr.text, tokenFile, coordinator: options.coordinator,
    createdAtUnixMs: Date.now(), vhosts: records,
  };
  writeState(state);

  const started: LocalVhost[] = [];
  const record = (rec: VhostRecord, kind: keyof VhostRecord['processes'], pid: number): void => {
    const r = recordOf(pid);
    if (r) rec.processes[kind] = r;
    writeState(state);
  };
  try {
    const tuned = ensureNeighbourTable();
    if (tuned.length > 0) options.onTuning?.(tuned);
    createUnderlayBridge(bridge);
    if (options.hostAccess) addBridgeAddress(bridge, hostUnderlayAddress(cidr), cidr.prefixLength);
    await forEachLimit(records, START_PARALLELISM, async (rec) => {
      const lv = await startLocalVhost({
        name: rec.name,
        dir: rec.dir,
        tokenFile,
        sysctls: VHOST_SYSCTLS,
        prepare: async (netns) => connectVhost(bridge, rec.hostVeth, netns, rec.underlayIp, cidr.prefixLength),
        agentArgs: [
          '--underlay-interface', 'eth0',
          ...(options.coordinator === undefined ? [] : ['--coordinator', options.coordinator]),
          // Each agent stands in for Alcor's host agent on its vhost (its own namespace, so one port
          // for all); with host access, an NCM running here is asked for its state after a restart.
          ...(options.goalState === false ? [] : ['--goalstate', `0.0.0.0:${GOALSTATE_PORT}`]),
          ...(options.goalState !== false && options.hostAccess ? ['--alcor-ncm', `${hostUnderlayAddress(cidr)}:${ALCOR_NCM_PORT}`] : []),
          ...(options.agentArgs ?? []),
        ],
      });
      started[records.indexOf(rec)] = lv;
      record(rec, 'ovsdbServer', lv.ovsPids.ovsdbServer);
      record(rec, 'vswitchd', lv.ovsPids.vswitchd);
      record(rec, 'agent', lv.agent.pid);
      if (lv.grpcAddress !== rec.grpcAddress || lv.dbSocket !== rec.dbSocket || lv.httpSocket !== rec.httpSocket) {
        throw new Error(`vhost ${rec.name}: its paths differ from the recorded ones (launcher bug)`);
      }
    });
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
        record(rec, 'agent', lv.agent.pid);
      },
      get vswitchdPid() { return lv.ovsPids.vswitchd; },
      async restartVswitchd() {
        // Recorded right away, so a teardown from another process stops the new one.
        record(rec, 'vswitchd', await lv.restartVswitchd());
      },
    };
  });
  return {
    prefix, stateDir, bridge, underlayCidr: cidr.text, hostIp: options.hostAccess ? hostUnderlayAddress(cidr) : undefined, tokenFile, token, vhosts,
    async stop() {
      for (const lv of started) lv.client.close();
      return teardownLocalEmulation(stateDir);
    },
  };
}

/**
 * Removes everything the emulation recorded in `stateDir`, from any process: per vhost its agent,
 * its VMs' namespaces (as its OVSDB records them, read from the database file if ovsdb-server is
 * dead), ovs-vswitchd and ovsdb-server (by recorded PID and start time), its namespace and veth;
 * then the bridge and the folder. Says what it removed and what it could not.
 */
export async function teardownLocalEmulation(stateDir: string): Promise<TeardownReport> {
  const dir = resolve(stateDir);
  const removed: string[] = [];
  const failed: Array<{ what: string; error: string }> = [];
  let state: EmulationState | undefined;
  try {
    state = readState(dir);
  } catch (e) {
    return { removed, failed: [{ what: statePath(dir), error: errorMessage(e) }] };
  }
  if (!state) return { removed, failed: existsSync(dir) ? [{ what: dir, error: 'no emulation is recorded here (no emulation.json); left alone' }] : [] };
  const step = async (what: string, fn: () => Promise<string | undefined> | string | undefined): Promise<void> => {
    try {
      const done = await fn();
      if (done !== undefined) removed.push(done);
    } catch (e) {
      failed.push({ what, error: errorMessage(e) });
    }
  };
  await Promise.all(state.vhosts.map((v) => teardownVhost(v, step)));
  await step(`bridge ${state.bridge}`, () => (deleteLink(state.bridge) ? `bridge ${state.bridge}` : undefined));
  if (failed.length === 0) await step(`folder ${dir}`, () => (rmSync(dir, { recursive: true, force: true }), `folder ${dir}`));
  else failed.push({ what: `folder ${dir}`, error: 'kept, so that a later teardown can finish the job' });
  return { removed, failed };
}

type Step = (what: string, fn: () => Promise<string | undefined> | string | undefined) => Promise<void>;

async function stopProcess(step: Step, what: string, r: ProcessRecord | undefined): Promise<void> {
  if (!r) return;
  await step(what, async () => {
    const how = await stopRecorded(r, 5000);
    if (how === 'survived') throw new Error(`pid ${r.pid} survived SIGKILL`);
    return how === 'not running' ? undefined : `${what} (pid ${r.pid}, ${how})`;
  });
}

async function teardownVhost(v: VhostRecord, step: Step): Promise<void> {
  // The agent first, so it makes no more VMs; then the VMs it recorded; then OVS.
  await stopProcess(step, `agent of ${v.name}`, v.processes.agent);
  await step(`VM namespaces of ${v.name}`, async () => {
    const server = v.processes.ovsdbServer;
    let names: string[];
    if (server && isRunning(server)) names = await vmsFromOvsdb(v.dbSocket, v.name).catch(() => vmsFromDbFile(v.dbFile, v.name));
    else names = vmsFromDbFile(v.dbFile, v.name);
    const present = [...new Set([...names, ...vmsFromMarkedLinks(v.netns, v.name)])].filter((n) => existsSync(`/run/netns/${n}`));
    if (present.length === 0) return undefined;
    const errors = (await netnsDelete(present)).map((err, i) => (err && err !== 'ENOENT' ? `${present[i]}: ${err}` : '')).filter(Boolean);
    if (errors.length > 0) throw new Error(errors.join(', '));
    return `${present.length} VM namespace${present.length === 1 ? '' : 's'} of ${v.name}`;
  });
  await stopProcess(step, `ovs-vswitchd of ${v.name}`, v.processes.vswitchd);
  await stopProcess(step, `ovsdb-server of ${v.name}`, v.processes.ovsdbServer);
  // Anything of ours the record missed (the launcher died between a start and its record): a
  // process in the vhost's namespace whose command line names the vhost's folder.
  for (const p of processesInNetns(`/run/netns/${v.netns}`).filter((q) => q.cmdline.includes(v.dir))) {
    await stopProcess(step, `unrecorded process of ${v.name} (${p.cmdline.split(' ')[0]})`, p);
  }
  await step(`namespace ${v.netns}`, async () => {
    if (!existsSync(`/run/netns/${v.netns}`)) return undefined;
    const [err] = await netnsDelete([v.netns]);
    if (err && err !== 'ENOENT') throw new Error(err);
    return `namespace ${v.netns}`;
  });
  // Deleting the namespace destroys the veth pair, asynchronously: wait for it, delete it if it stays.
  await step(`link ${v.hostVeth}`, async () => {
    const deadline = Date.now() + 5000;
    while (linkExists(v.hostVeth) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return deleteLink(v.hostVeth) ? `link ${v.hostVeth}` : undefined;
  });
}
