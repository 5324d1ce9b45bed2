// `merak local up | down | status`: the local emulation as a user runs it. `up` starts a
// coordinator and N vhosts that keep running after the command returns (each process logs to its
// file in the local folder); `down` removes everything, from any shell, also what an interrupted
// or crashed run left behind.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopRecordedAlcorServer } from '../local/alcor-server-process.js';
import { startCoordinatorProcess } from '../local/coordinator-process.js';
import { type LocalEmulation, type LocalOvn, type TeardownReport, startLocalEmulation, teardownLocalEmulation } from '../local/emulation.js';
import { type EmulationState, readState } from '../local/emulation-state.js';
import { northdStatus } from '../local/ovn-central.js';
import { type ProcessRecord, isRunning, recordOf, stopRecorded } from '../local/process-record.js';
import { type LocalEndpoint, readLocalEndpoint } from './connect.js';
import { CoordinatorClient } from './coordinator-client.js';

/** What `local up` records beside the endpoint, for `down` and `status`. */
interface LocalRecord extends LocalEndpoint {
  readonly prefix: string;
  readonly hosts: number;
  readonly coordinatorProcess: ProcessRecord;
  readonly startedAt: string;
}

export interface LocalUpOptions {
  readonly dir: string;
  readonly hosts: number;
  readonly prefix: string;
  readonly underlayCidr?: string;
  /** Give this machine an address on the underlay, so vhosts reach services here (Alcor). */
  readonly hostAccess?: boolean;
  /** The coordinator's --dataplane (default neighbors). */
  readonly dataplane?: 'neighbors' | 'flood';
  /** OVN too: OVN central on the underlay, an ovn-controller per vhost, the coordinator pointed at them. */
  readonly ovn?: boolean;
  readonly log: (line: string) => void;
}

/** The coordinator's flags for the emulation's OVN (its NB and SB over their unix sockets). */
export function ovnCoordinatorArgs(ovn: LocalOvn): string[] {
  return ['--ovn-nb', ovn.nb, '--ovn-sb', ovn.sb];
}

const ENDPOINT = 'endpoint.json';
const EMULATION = 'emulation';

/** Where a run in Alcor mode records the Alcor-compatible server it started (stopped by `down`). */
export function alcorServerRecordFile(dir: string): string {
  return join(dir, 'alcor-server.json');
}

function readRecord(dir: string): LocalRecord | undefined {
  return readLocalEndpoint(dir) as LocalRecord | undefined;
}

/** Is a local emulation up in `dir` (its coordinator running)? */
export function localIsUp(dir: string): boolean {
  const r = readRecord(dir);
  return r !== undefined && isRunning(r.coordinatorProcess);
}

/** Something of an earlier run is in `dir` (up, or left behind). */
export function localLeftovers(dir: string): boolean {
  return existsSync(join(dir, ENDPOINT)) || readState(join(dir, EMULATION)) !== undefined || existsSync(alcorServerRecordFile(dir));
}

export interface LocalUp {
  readonly record: LocalRecord;
  /** The running emulation (its vhosts' clients and agent kill/restart, for tests). */
  readonly emulation: LocalEmulation;
}

export async function localUp(o: LocalUpOptions): Promise<LocalUp> {
  if (localIsUp(o.dir)) throw new Error(`a local emulation is already up in ${o.dir}: 'merak local down' first (or give another --local-dir)`);
  if (localLeftovers(o.dir)) {
    o.log(`removing what an earlier run left in ${o.dir}`);
    await localDown(o.dir, o.log);
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const tokenFile = join(o.dir, 'token');
  writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const coordinator = `unix:${join(o.dir, 'coordinator.sock')}`;
  let record: LocalRecord | undefined;
  // The coordinator starts once the underlay (and OVN central) is up, before the vhosts: with OVN
  // it is given the central's databases, which then exist. Recorded at once: `down` stops it.
  const startCoordinator = async (ovn: LocalOvn | undefined): Promise<void> => {
    o.log(`coordinator: ${coordinator} (log ${join(o.dir, 'coordinator.log')})`);
    const extraArgs = [...(o.dataplane ? ['--dataplane', o.dataplane] : []), ...(ovn ? ovnCoordinatorArgs(ovn) : [])];
    const proc = await startCoordinatorProcess({
      listen: coordinator, http: `unix:${join(o.dir, 'coordinator-http.sock')}`, state: join(o.dir, 'state.db'), tokenFile, logFile: join(o.dir, 'coordinator.log'), extraArgs,
    });
    record = {
      coordinator, tokenFile, prefix: o.prefix, hosts: o.hosts, coordinatorProcess: recordOf(proc.pid) ?? { pid: proc.pid, startTime: 0 }, startedAt: new Date().toISOString(),
    };
    writeFileSync(join(o.dir, ENDPOINT), `${JSON.stringify(record, null, 2)}\n`);
  };
  try {
    if (o.ovn) o.log(`OVN central: its own namespace on the underlay, NB + SB ovsdb-server, ovn-northd (logs in ${join(o.dir, EMULATION, 'ovn-central')})`);
    o.log(`${o.hosts} vhosts: network namespace, underlay veth, ovsdb-server + ovs-vswitchd (userspace datapath), agent${o.ovn ? ', ovn-controller' : ''}`);
    const emulation = await startLocalEmulation({
      prefix: o.prefix, hosts: o.hosts, stateDir: join(o.dir, EMULATION), coordinator, tokenFile,
      onTuning: (changes) => o.log(`raised machine-wide kernel limits (the ARP table is shared by all namespaces): ${changes.join(', ')}`),
      beforeVhosts: startCoordinator,
      ...(o.underlayCidr !== undefined ? { underlayCidr: o.underlayCidr } : {}),
      ...(o.hostAccess ? { hostAccess: true } : {}),
      ...(o.ovn ? { ovn: true } : {}),
    });
    const client = new CoordinatorClient(coordinator, readFileSync(tokenFile, 'utf8').trim());
    try {
      await waitForAgents(client, emulation.vhosts.map((v) => v.name));
    } finally {
      client.close();
    }
    for (const v of emulation.vhosts) o.log(`  ${v.name}  underlay ${v.underlayIp}  registered`);
    if (emulation.hostIp) o.log(`  this machine is ${emulation.hostIp} on the underlay: services here (e.g. npm run alcor:server -- --host ${emulation.hostIp}) are reachable from the vhosts`);
    if (emulation.ovn) {
      const c = emulation.ovn;
      o.log(`  OVN central ${c.netns}  underlay ${c.underlayIp}  NB ${c.nb} | ${c.nbTcp}  SB ${c.sb} | ${c.sbTcp}`);
      o.log(`  look: ovn-nbctl --db=${c.nb} show; ovn-sbctl --db=${c.sb} show`);
    }
    if (!record) throw new Error('the coordinator was not started (launcher bug)');
    return { record, emulation };
  } catch (e) {
    o.log('start failed; removing what was made');
    await localDown(o.dir, () => undefined);
    throw e;
  }
}

async function waitForAgents(client: CoordinatorClient, names: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { agents } = await client.listAgents();
    const connected = new Set(agents.filter((a) => a.connected).map((a) => a.info?.name));
    const missing = names.filter((n) => !connected.has(n));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`agents not registered after ${timeoutMs / 1000} s: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes the local emulation in `dir`: coordinator, vhosts (with their VMs), the folder. */
export async function localDown(dir: string, log: (line: string) => void): Promise<TeardownReport> {
  const removed: string[] = [];
  const failed: Array<{ what: string; error: string }> = [];
  const alcor = await stopRecordedAlcorServer(alcorServerRecordFile(dir));
  if (alcor?.how === 'survived') failed.push({ what: alcor.what, error: 'still running after SIGKILL' });
  else if (alcor && alcor.how !== 'not running') removed.push(`${alcor.what}, ${alcor.how}`);
  const record = readRecord(dir);
  if (record) {
    const how = await stopRecorded(record.coordinatorProcess, 10_000);
    if (how === 'survived') failed.push({ what: `coordinator (pid ${record.coordinatorProcess.pid})`, error: 'still running after SIGKILL' });
    else if (how !== 'not running') removed.push(`coordinator (pid ${record.coordinatorProcess.pid}, ${how})`);
  }
  if (readState(join(dir, EMULATION))) {
    const report = await teardownLocalEmulation(join(dir, EMULATION));
    removed.push(...report.removed);
    failed.push(...report.failed);
  }
  if (failed.length === 0) rmSync(dir, { recursive: true, force: true });
  for (const f of failed) log(`  could not remove ${f.what}: ${f.error}`);
  log(`removed ${removed.length} things${failed.length > 0 ? `, ${failed.length} could not be removed (the folder ${dir} is kept for another try)` : ''}`);
  return { removed, failed };
}

export async function localStatus(dir: string): Promise<string> {
  const record = readRecord(dir);
  const state = readState(join(dir, EMULATION));
  if (!record && !state) return `no local emulation in ${dir}`;
  const lines = [`local emulation in ${dir}${record ? `, started ${record.startedAt}` : ''}`];
  if (record) lines.push(`  coordinator ${record.coordinator}: ${isRunning(record.coordinatorProcess) ? 'running' : 'NOT RUNNING'} (pid ${record.coordinatorProcess.pid})`);
  const procs = (ps: Readonly<Record<string, ProcessRecord | undefined>>): string =>
    Object.entries(ps).map(([name, p]) => `${name} ${p && isRunning(p) ? 'up' : 'DOWN'}${p ? ` (pid ${p.pid})` : ''}`).join(', ');
  if (state?.ovn) lines.push(...(await ovnStatus(state.ovn, procs)));
  for (const v of state?.vhosts ?? []) lines.push(`  ${v.name}  underlay ${v.underlayIp}  ${procs(v.processes)}`);
  return lines.join('\n');
}

async function ovnStatus(c: NonNullable<EmulationState['ovn']>, procs: (ps: Readonly<Record<string, ProcessRecord | undefined>>) => string): Promise<string[]> {
  const northd = c.processes.northd && isRunning(c.processes.northd) ? (await northdStatus(c).catch(() => 'no answer')).replace(/^Status: /, '') : 'down';
  return [
    `  OVN central ${c.netns}  underlay ${c.underlayIp}  ${procs(c.processes)}; northd ${northd}`,
    `    NB ${c.nb.unix} | ${c.nb.tcp}   SB ${c.sb.unix} | ${c.sb.tcp}`,
  ];
}
