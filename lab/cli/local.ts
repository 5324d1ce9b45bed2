// `merak local up | down | status`: the local emulation as a user runs it. `up` builds a
// coordinator and N vhosts under a supervisor daemon that restarts whatever ends (with backoff);
// on an existing emulation it starts only what is down and keeps everything else (VMs, the
// coordinator's store, which it resumes from); `--fresh` removes it all first. `down` stops the
// supervisor, then removes everything, from any shell, also what an interrupted run left behind.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MerakError } from '@merak/common';
import { stopRecordedAlcorServer } from '../local/alcor-server-process.js';
import { type LocalEmulation, type TeardownReport, teardownLocalEmulation } from '../local/emulation.js';
import { readState } from '../local/emulation-state.js';
import { supervisedEmulation } from '../local/emulation-view.js';
import { EMULATION_DIR, ENDPOINT_FILE, type LocalRecord, type LocalSettings, readLocalRecord } from '../local/local-record.js';
import { waitForAgents } from '../local/local-launch.js';
import { isRunning, stopRecorded } from '../local/process-record.js';
import { askToHeal, followSupervisor, runningSupervisor, spawnSupervisor, stopSupervisor } from '../local/supervisor/daemon-client.js';
import { readSupervision, supervisionPath } from '../local/supervisor/supervision-file.js';
import { emulationUnits } from '../local/supervisor/units.js';
import { CoordinatorClient } from '../coordinator-client/coordinator-client.js';

export { ovnCoordinatorArgs } from '../local/local-launch.js';
export { localStatus } from '../local/local-status.js';

export interface LocalUpOptions extends LocalSettings {
  readonly dir: string;
  /** Remove whatever emulation is in `dir` first and start clean (`local up --fresh`). */
  readonly fresh?: boolean;
  readonly log: (line: string) => void;
}

/** A local emulation that is there but not as asked; `--fresh` replaces it. */
export class LocalSettingsError extends MerakError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** Where a run in Alcor mode records the Alcor-compatible server it started (stopped by `down`). */
export function alcorServerRecordFile(dir: string): string {
  return join(dir, 'alcor-server.json');
}

/** Is a local emulation up in `dir` (its coordinator running)? */
export function localIsUp(dir: string): boolean {
  const r = readLocalRecord(dir);
  return r !== undefined && isRunning(r.coordinatorProcess);
}

/** Something of an earlier run is in `dir` (up, or left behind). */
export function localLeftovers(dir: string): boolean {
  return existsSync(join(dir, ENDPOINT_FILE)) || readState(join(dir, EMULATION_DIR)) !== undefined || existsSync(alcorServerRecordFile(dir)) || existsSync(supervisionPath(dir));
}

export interface LocalUp {
  readonly record: LocalRecord;
  /** The running emulation (its vhosts' clients, agent kill/restart through the supervisor). */
  readonly emulation: LocalEmulation;
  /** What this `up` started again (empty for a fresh start, or when everything was running). */
  readonly restarted: readonly string[];
}

export async function localUp(o: LocalUpOptions): Promise<LocalUp> {
  const settings: LocalSettings = {
    prefix: o.prefix, hosts: o.hosts, underlayCidr: o.underlayCidr, hostAccess: o.hostAccess ?? false, dataplane: o.dataplane, ovn: o.ovn ?? false,
    ...(o.agentsPerProcess !== undefined && o.agentsPerProcess > 1 ? { agentsPerProcess: o.agentsPerProcess } : {}),
    ...(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {}),
  };
  const existing = readLocalRecord(o.dir);
  if (!o.fresh && existing && readState(join(o.dir, EMULATION_DIR))) return heal(o, existing, settings);
  if (localLeftovers(o.dir)) {
    o.log(o.fresh ? `--fresh: removing the emulation in ${o.dir}` : `removing what an earlier, unfinished run left in ${o.dir}`);
    const report = await localDown(o.dir, o.log);
    if (report.failed.length > 0) throw new Error(`could not remove the earlier emulation in ${o.dir}: ${report.failed.map((f) => f.what).join(', ')}`);
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  try {
    await followSupervisor(o.dir, spawnSupervisor(o.dir, { launch: settings }), ['supervising'], o.log);
  } catch (e) {
    o.log('start failed; removing what was made');
    await localDown(o.dir, () => undefined);
    throw e;
  }
  const record = readLocalRecord(o.dir)!;
  o.log(`supervised: a process that ends is started again (see 'merak local status')`);
  return { record, emulation: supervisedEmulation(o.dir, record, () => localDown(o.dir, () => undefined)), restarted: [] };
}

/** `up` on an existing emulation: start what is down (through its supervisor), keep the rest. */
async function heal(o: LocalUpOptions, record: LocalRecord, asked: LocalSettings): Promise<LocalUp> {
  const had = record.settings;
  const differs = (['prefix', 'hosts', 'ovn', 'hostAccess', 'agentsPerProcess', 'metricsPort'] as const).filter((k) => (asked[k] ?? false) !== (had[k] ?? false));
  if (differs.length > 0) {
    throw new LocalSettingsError(`the emulation in ${o.dir} was made with other settings (${differs.map((k) => `${k} ${String(had[k] ?? false)}, asked ${String(asked[k] ?? false)}`).join('; ')}): 'merak local up --fresh' replaces it, 'merak local down' removes it`);
  }
  const state = readState(join(o.dir, EMULATION_DIR))!;
  const down = emulationUnits(record, state).filter((u) => { const r = u.current(); return !r || !isRunning(r); }).map((u) => u.what);
  const running = runningSupervisor(o.dir);
  if (running) {
    askToHeal(running);
  } else {
    down.unshift('supervisor');
    await followSupervisor(o.dir, spawnSupervisor(o.dir, { heal: true }), ['supervising'], o.log);
  }
  o.log(down.length === 0 ? `the emulation in ${o.dir} is up; nothing to restart` : `restarting: ${down.join(', ')}`);
  await waitUntilAllRunning(o.dir);
  const now = readLocalRecord(o.dir)!;
  const client = new CoordinatorClient(now.coordinator, readFileSync(now.tokenFile, 'utf8').trim());
  try {
    await waitForAgents(client, state.vhosts.map((v) => v.name), 120_000);
  } finally {
    client.close();
  }
  if (down.length > 0) o.log(`restarted: ${down.join(', ')}; kept the rest, its VMs and the coordinator's store (its runs resume)`);
  return { record: now, emulation: supervisedEmulation(o.dir, now, () => localDown(o.dir, () => undefined)), restarted: down };
}

/** Resolves once every recorded process runs; a process the supervisor cannot start fails it with its error. */
async function waitUntilAllRunning(dir: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = readLocalRecord(dir);
    const state = readState(join(dir, EMULATION_DIR));
    if (!record || !state) throw new Error(`the emulation in ${dir} went away`);
    const down = emulationUnits(record, state).filter((u) => { const r = u.current(); return !r || !isRunning(r); });
    if (down.length === 0) return;
    if (!runningSupervisor(dir)) throw new Error(`the supervisor exited; see ${join(dir, 'supervisor.log')}`);
    if (Date.now() > deadline) {
      const units = readSupervision(dir)?.units ?? {};
      throw new Error(`not running after ${timeoutMs / 1000} s: ${down.map((u) => `${u.what}${units[u.key]?.lastError ? ` (${units[u.key]!.lastError})` : ''}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes the local emulation in `dir`: the supervisor first (nothing restarts), the coordinator, the vhosts (with their VMs), the folder. */
export async function localDown(dir: string, log: (line: string) => void): Promise<TeardownReport> {
  const removed: string[] = [];
  const failed: Array<{ what: string; error: string }> = [];
  const supervisor = readSupervision(dir)?.supervisor;
  const how = await stopSupervisor(dir);
  if (how === 'survived') failed.push({ what: `supervisor (pid ${supervisor?.pid})`, error: 'still running after SIGKILL' });
  else if (how !== 'not running') removed.push(`supervisor (pid ${supervisor?.pid}, ${how})`);
  const alcor = await stopRecordedAlcorServer(alcorServerRecordFile(dir));
  if (alcor?.how === 'survived') failed.push({ what: alcor.what, error: 'still running after SIGKILL' });
  else if (alcor && alcor.how !== 'not running') removed.push(`${alcor.what}, ${alcor.how}`);
  // Read after the supervisor stopped: it records every process it started.
  const record = readLocalRecord(dir);
  if (record) {
    const how = await stopRecorded(record.coordinatorProcess, 10_000);
    if (how === 'survived') failed.push({ what: `coordinator (pid ${record.coordinatorProcess.pid})`, error: 'still running after SIGKILL' });
    else if (how !== 'not running') removed.push(`coordinator (pid ${record.coordinatorProcess.pid}, ${how})`);
  }
  if (readState(join(dir, EMULATION_DIR))) {
    const report = await teardownLocalEmulation(join(dir, EMULATION_DIR));
    removed.push(...report.removed);
    failed.push(...report.failed);
  }
  if (failed.length === 0) rmSync(dir, { recursive: true, force: true });
  for (const f of failed) log(`  could not remove ${f.what}: ${f.error}`);
  log(`removed ${removed.length} things${failed.length > 0 ? `, ${failed.length} could not be removed (the folder ${dir} is kept for another try)` : ''}`);
  return { removed, failed };
}

/** The settings of the emulation recorded in `dir`, if any. */
export function localSettings(dir: string): LocalSettings | undefined {
  return readLocalRecord(dir)?.settings;
}
