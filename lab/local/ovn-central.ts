// OVN central for the local emulation: its own network namespace on the underlay (a veth on the
// emulation's bridge, `eth0` inside with an underlay address), the NB and SB ovsdb-servers
// (TCP on that address for whoever is on the underlay, unix sockets in its folder for this
// machine: unix sockets ignore namespaces, so the coordinator and the vhosts' ovn-controllers use
// them and do not depend on the underlay, which drops whenever a vswitchd restarts), and
// ovn-northd between them. Every daemon logs to its file in the folder and is recorded by PID.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OvsdbClient } from '@merak/common';
import { isSysError, netnsCreate } from '@merak/native';
import { type ProcessRecord, isRunning } from './process-record.js';
import { OVN_NB_SCHEMA, OVN_SB_SCHEMA, OvnStartError, ovnMissing, run, startDetached } from './ovn-daemon.js';
import { type Step, removeNamespace, stopProcess } from './teardown-steps.js';
import { connectVhost } from './underlay-network.js';

export const OVN_NB_PORT = 6641;
export const OVN_SB_PORT = 6642;

export interface OvnEndpoints {
  /** unix:PATH (from this machine, any namespace). */
  readonly unix: string;
  /** tcp:IP:PORT on the underlay. */
  readonly tcp: string;
}

export type OvnCentralProcess = 'nb' | 'sb' | 'northd';

/** What the emulation state records of OVN central. */
export interface OvnCentralRecord {
  /** Its network namespace, `<prefix>-ovn`. */
  readonly netns: string;
  /** Its folder: databases, sockets, pid files, logs. */
  readonly dir: string;
  /** The root-namespace end of its underlay veth. */
  readonly hostVeth: string;
  readonly underlayIp: string;
  readonly nb: OvnEndpoints;
  readonly sb: OvnEndpoints;
  /** northd's control socket (ovn-appctl -t PATH status). */
  readonly northdCtl: string;
  processes: { [K in OvnCentralProcess]?: ProcessRecord };
}

export const ovnCentralNetns = (prefix: string): string => `${prefix}-ovn`;
export const ovnCentralVeth = (prefix: string): string => `${prefix}-uo`;

/** The names and paths OVN central of an emulation takes (nothing is made). */
export function ovnCentralRecord(stateDir: string, prefix: string, underlayIp: string): OvnCentralRecord {
  const dir = join(stateDir, 'ovn-central');
  return {
    netns: ovnCentralNetns(prefix), dir, hostVeth: ovnCentralVeth(prefix), underlayIp,
    nb: { unix: `unix:${join(dir, 'nb.sock')}`, tcp: `tcp:${underlayIp}:${OVN_NB_PORT}` },
    sb: { unix: `unix:${join(dir, 'sb.sock')}`, tcp: `tcp:${underlayIp}:${OVN_SB_PORT}` },
    northdCtl: join(dir, 'ovn-northd.ctl'),
    processes: {},
  };
}

export interface OvnCentralStart {
  readonly bridge: string;
  readonly prefixLength: number;
  /** sysctls for its namespace (no IPv6 on the underlay). */
  readonly sysctls: Array<[string, string]>;
  /** Called with each daemon's PID as soon as it runs (the caller records it). */
  readonly onProcess: (kind: OvnCentralProcess, pid: number) => void;
  readonly timeoutMs?: number;
}

/**
 * Builds OVN central as `rec` names it. On failure it leaves what it made for the caller's
 * teardown (stopOvnCentral), which works from the record alone.
 */
export async function startOvnCentral(rec: OvnCentralRecord, o: OvnCentralStart): Promise<void> {
  const missing = ovnMissing();
  if (missing) throw new OvnStartError(missing);
  const timeoutMs = o.timeoutMs ?? 20_000;
  await netnsCreate(rec.netns, { sysctls: o.sysctls }).catch((e: unknown) => {
    if (isSysError(e) && e.code === 'EEXIST') throw new OvnStartError(`network namespace ${rec.netns} already exists`);
    throw e;
  });
  connectVhost(o.bridge, rec.hostVeth, rec.netns, rec.underlayIp, o.prefixLength);
  // Its TCP answers to the vhosts reach their userspace datapath with the checksum left to the
  // hardware (none) unless the veth computes it: without this, TCP to 6641/6642 hangs.
  execFileSync('nsenter', [`--net=/run/netns/${rec.netns}`, '--', 'ethtool', '-K', 'eth0', 'tx', 'off'], { stdio: 'ignore' });
  mkdirSync(rec.dir, { recursive: true });
  for (const [db, schema] of [['nb', OVN_NB_SCHEMA], ['sb', OVN_SB_SCHEMA]] as const) {
    const file = join(rec.dir, `${db}.db`);
    if (!existsSync(file)) execFileSync('ovsdb-tool', ['create', file, schema]);
    o.onProcess(db, await startOvnDb(rec, db, timeoutMs));
    // The root row (what `ovn-nbctl init` / `ovn-sbctl init` write), over OVSDB itself.
    const client = await OvsdbClient.connect(db === 'nb' ? rec.nb.unix : rec.sb.unix, { database: db === 'nb' ? 'OVN_Northbound' : 'OVN_Southbound', timeoutMs });
    try {
      await client.transact([{ op: 'insert', table: db === 'nb' ? 'NB_Global' : 'SB_Global', row: {} }]);
    } finally {
      client.close();
    }
  }
  o.onProcess('northd', await startNorthd(rec, timeoutMs));
  await waitNorthdActive(rec, timeoutMs);
}

/** The NB or SB ovsdb-server of OVN central (its database file exists); resolves to its PID. Also a restart. */
export function startOvnDb(rec: OvnCentralRecord, db: 'nb' | 'sb', timeoutMs = 20_000): Promise<number> {
  const unix = db === 'nb' ? rec.nb.unix : rec.sb.unix;
  // The listening form is ptcp:PORT:IP (the connecting one tcp:IP:PORT).
  const ptcp = `ptcp:${db === 'nb' ? OVN_NB_PORT : OVN_SB_PORT}:${rec.underlayIp}`;
  return startDetached({
    what: `OVN ${db.toUpperCase()} ovsdb-server`, dir: rec.dir, netns: rec.netns, timeoutMs,
    argv: ['ovsdb-server', join(rec.dir, `${db}.db`), `--remote=p${unix}`, `--remote=${ptcp}`, `--unixctl=${join(rec.dir, `${db}.ctl`)}`],
    pidFile: join(rec.dir, `${db}.pid`), logFile: join(rec.dir, `${db}.log`),
  });
}

/** ovn-northd of OVN central; resolves to its PID. Also a restart. */
export function startNorthd(rec: OvnCentralRecord, timeoutMs = 20_000): Promise<number> {
  return startDetached({
    what: 'ovn-northd', dir: rec.dir, netns: rec.netns, timeoutMs,
    argv: ['ovn-northd', `--ovnnb-db=${rec.nb.unix}`, `--ovnsb-db=${rec.sb.unix}`, `--unixctl=${rec.northdCtl}`],
    pidFile: join(rec.dir, 'ovn-northd.pid'), logFile: join(rec.dir, 'ovn-northd.log'),
  });
}

/** northd's own word: `Status: active` (it holds the SB lock and works). */
export async function northdStatus(rec: OvnCentralRecord): Promise<string> {
  const { stdout } = await run(['ovn-appctl', '-t', rec.northdCtl, 'status'], { timeoutMs: 5000 });
  return stdout.trim();
}

async function waitNorthdActive(rec: OvnCentralRecord, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await northdStatus(rec).catch((e: unknown) => (e as Error).message);
    if (/Status: active/.test(last)) return;
    const r = rec.processes.northd;
    if (r && !isRunning(r)) throw new OvnStartError('ovn-northd exited', join(rec.dir, 'ovn-northd.log'));
    if (Date.now() > deadline) throw new OvnStartError(`ovn-northd not active after ${timeoutMs} ms (${last})`, join(rec.dir, 'ovn-northd.log'));
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * Removes OVN central from its record: northd, then the SB and NB servers (by recorded PID and
 * start time), anything of its folder still running in its namespace, the namespace and its veth.
 * Its files go with the emulation's folder.
 */
export async function stopOvnCentral(rec: OvnCentralRecord, step: Step): Promise<void> {
  await stopProcess(step, 'ovn-northd', rec.processes.northd);
  await stopProcess(step, 'OVN SB ovsdb-server', rec.processes.sb);
  await stopProcess(step, 'OVN NB ovsdb-server', rec.processes.nb);
  await removeNamespace(step, { owner: 'OVN central', netns: rec.netns, dir: rec.dir, hostVeth: rec.hostVeth });
}
