// ovn-controller beside a vhost's OVS: its chassis settings in the vhost's Open_vSwitch row
// (external_ids, written over OVSDB), the daemon inside the vhost's namespace with every OVS/OVN
// folder pointed at the vhost's OVS folder (it finds the bridges' OpenFlow sockets there as
// <bridge>.mgmt, and makes its control socket ovn-controller.<pid>.ctl there: 23.03 has no
// --unixctl), readiness as its Chassis row in SB, and its stop with `exit` (which removes the
// Chassis and the tunnel ports; SIGTERM would leave the Chassis behind in SB).
import { join } from 'node:path';
import { OvsdbClient, ovsMap } from '@merak/common';
import { type ProcessRecord, isRunning, stopRecorded } from './process-record.js';
import { OvnStartError, run, startDetached } from './ovn-daemon.js';

/** An OVSDB value (named from the client, whichever alias the agent package exports it under). */
type OvsdbJson = Awaited<ReturnType<OvsdbClient['transact']>>[number];

/** OVN's integration bridge on every vhost: not br-int, which the agent's standalone data plane owns. */
export const OVN_BRIDGE = 'br-ovn';

export interface ChassisSettings {
  /** The vhost's name: system-id, hostname, and the Chassis's name in SB. */
  readonly name: string;
  /** Its underlay address: the Geneve tunnels' endpoint. */
  readonly encapIp: string;
  /** The SB remote ovn-controller connects to (unix:PATH or tcp:IP:PORT). */
  readonly sbRemote: string;
}

/** The Open_vSwitch external_ids ovn-controller reads. */
export function chassisExternalIds(c: ChassisSettings): Record<string, string> {
  return {
    'system-id': c.name,
    hostname: c.name,
    'ovn-remote': c.sbRemote,
    'ovn-encap-type': 'geneve',
    'ovn-encap-ip': c.encapIp,
    'ovn-bridge': OVN_BRIDGE,
    'ovn-bridge-datapath-type': 'netdev',
  };
}

/** Writes the chassis settings into the vhost's Open_vSwitch row (replacing those keys only). */
export async function configureChassis(dbSocket: string, c: ChassisSettings): Promise<void> {
  const ids = chassisExternalIds(c);
  const client = await OvsdbClient.connect(`unix:${dbSocket}`);
  try {
    // Mutations apply in order: drop the keys' old values, then insert the new ones.
    await client.transact([{
      op: 'mutate', table: 'Open_vSwitch', where: [],
      mutations: [['external_ids', 'delete', ['set', Object.keys(ids)]], ['external_ids', 'insert', ovsMap(ids)]],
    }]);
  } finally {
    client.close();
  }
}

export interface OvnControllerStart {
  /** The vhost's network namespace. */
  readonly netns: string;
  /** The vhost's OVS folder (sockets, pid files, logs). */
  readonly ovsDir: string;
  readonly dbSocket: string;
  /** Extra flags (tests give an impossible one to see a failed start rolled back). */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
}

export const ovnControllerLog = (ovsDir: string): string => join(ovsDir, 'ovn-controller.log');
/** Its control socket, named by its PID. */
export const ovnControllerCtl = (ovsDir: string, pid: number): string => join(ovsDir, `ovn-controller.${pid}.ctl`);

/** Starts ovn-controller (after configureChassis) and resolves to its PID. */
export function startOvnController(o: OvnControllerStart): Promise<number> {
  return startDetached({
    what: `ovn-controller of ${o.netns}`, dir: o.ovsDir, netns: o.netns,
    argv: ['ovn-controller', `unix:${o.dbSocket}`, ...(o.extraArgs ?? [])],
    pidFile: join(o.ovsDir, 'ovn-controller.pid'), logFile: ovnControllerLog(o.ovsDir),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}

export interface ChassisRow {
  readonly name: string;
  readonly hostname: string;
  /** Encap rows: type and ip. */
  readonly encaps: ReadonlyArray<{ readonly type: string; readonly ip: string }>;
}

/** The Chassis rows of SB (with their Encaps), keyed by name. */
export async function sbChassis(sb: string): Promise<Map<string, ChassisRow>> {
  const client = await OvsdbClient.connect(sb, { database: 'OVN_Southbound', timeoutMs: 5000 });
  try {
    const [chassis, encaps] = (await client.transact([
      { op: 'select', table: 'Chassis', where: [], columns: ['name', 'hostname', 'encaps'] },
      { op: 'select', table: 'Encap', where: [], columns: ['_uuid', 'type', 'ip'] },
    ])) as Array<{ rows: Array<Record<string, OvsdbJson>> }>;
    const encapBy = new Map(encaps!.rows.map((r) => [uuidOf(r._uuid), { type: String(r.type), ip: String(r.ip) }]));
    const out = new Map<string, ChassisRow>();
    for (const r of chassis!.rows) {
      const refs = Array.isArray(r.encaps) && r.encaps[0] === 'set' ? (r.encaps[1] as OvsdbJson[]) : [r.encaps ?? null];
      const list = refs.map((u) => encapBy.get(uuidOf(u))).filter((e): e is { type: string; ip: string } => e !== undefined);
      out.set(String(r.name), { name: String(r.name), hostname: String(r.hostname), encaps: list });
    }
    return out;
  } finally {
    client.close();
  }
}

const uuidOf = (v: OvsdbJson | undefined): string => (Array.isArray(v) && v[0] === 'uuid' ? String(v[1]) : '');

export interface ChassisWait {
  readonly name: string;
  readonly encapIp: string;
  /** Its ovn-controller, to tell "died" from "slow". */
  readonly process: ProcessRecord;
  readonly logFile: string;
}

/** Resolves once every chassis is in SB with its Geneve encap; a clear error on timeout or death. */
export async function waitForChassis(sb: string, chassis: readonly ChassisWait[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...chassis];
  for (;;) {
    const rows = await sbChassis(sb).catch(() => new Map<string, ChassisRow>());
    pending = pending.filter((c) => !rows.get(c.name)?.encaps.some((e) => e.type === 'geneve' && e.ip === c.encapIp));
    if (pending.length === 0) return;
    const dead = pending.find((c) => !isRunning(c.process));
    if (dead) throw new OvnStartError(`ovn-controller of ${dead.name} (pid ${dead.process.pid}) exited before its chassis appeared in SB`, dead.logFile);
    if (Date.now() > deadline) {
      throw new OvnStartError(`chassis not in SB (${sb}) after ${timeoutMs} ms: ${pending.map((c) => c.name).join(', ')}`, pending[0]!.logFile);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Each vhost resolves every other vhost's tunnel endpoint once, by pinging it from its namespace:
 * its vswitchd learns a peer's MAC from the ARP reply on its way to br-phy. Otherwise the first
 * packets towards each peer are lost for a few hundred ms while vswitchd ARPs (the userspace
 * datapath keeps a flow without the tunnel until it revalidates): longer than a ping test's echoes
 * last. One vhost after the other, its kernel's neighbors flushed first: a kernel that has just
 * been asked for its own address knows the asker already and would send no ARP request of its own.
 * Unused, an entry ages out after tnl/neigh/aging (900 s): the next packets to that peer meet the
 * same loss. Best effort: a peer that does not answer is left to vswitchd's own ARP.
 */
export async function resolveTunnelPeers(vhosts: ReadonlyArray<{ readonly netns: string; readonly underlayIp: string }>, device = 'br-phy'): Promise<void> {
  const script = `ip neigh flush dev ${device}; for ip; do ping -q -c 1 -W 2 "$ip" >/dev/null 2>&1 & done; wait`;
  for (const v of vhosts) {
    await run(['sh', '-c', script, 'sh', ...vhosts.filter((p) => p !== v).map((p) => p.underlayIp)], { netns: v.netns }).catch(() => undefined);
  }
}

/**
 * Stops a recorded ovn-controller: `exit` over its control socket (it deletes its Chassis and
 * tunnel ports, and needs its OVS and SB for that), then waits for the PID to go; SIGTERM then
 * SIGKILL by PID if it does not.
 */
export async function stopOvnController(r: ProcessRecord, ovsDir: string, graceMs = 5000): Promise<'not running' | 'exited' | 'terminated' | 'killed' | 'survived'> {
  if (!isRunning(r)) return 'not running';
  await run(['ovn-appctl', '-t', ovnControllerCtl(ovsDir, r.pid), 'exit'], { timeoutMs: graceMs }).catch(() => undefined);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(r)) return 'exited';
    await new Promise((res) => setTimeout(res, 20));
  }
  return stopRecorded(r, 2000);
}
