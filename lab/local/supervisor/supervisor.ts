// The restart loop of a local emulation, as kubelet's for a pod: every process `local up` started
// is watched by its recorded PID + start time; one that is gone is started again with the same
// command line after a backoff (backoff.ts), its new PID recorded at once, and its restarts and
// last exit kept in supervision.json. This process is the parent of what it starts, so it knows
// how those ended (code or signal); of processes it found running it only sees that they ended.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MerakError, errorMessage } from '@merak/common';
import { describeExit, takeChildExit } from '../child-exits.js';
import { type EmulationState, readState, writeState } from '../emulation-state.js';
import { EMULATION_DIR, type LocalRecord, readLocalRecord, writeLocalRecord } from '../local-record.js';
import { isRunning, recordOf } from '../process-record.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, restartDelayMs } from './backoff.js';
import { type SupervisionRecord, type UnitStatus, writeSupervision } from './supervision-file.js';
import { type Unit, emulationUnits } from './units.js';

const POLL_MS = 250;
/** Starts at once within a tier (each start waits for its process to be ready). */
const START_PARALLELISM = 4;

export class SupervisorError extends MerakError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

interface Runtime {
  /** Crashes in a row (reset once the process stayed up long enough). */
  crashes: number;
  /** When the current process was started or adopted. */
  upSinceMs: number;
  /** Due time of the next start while down. */
  dueAtMs: number | undefined;
  starting: boolean;
}

export class Supervisor {
  private readonly local: LocalRecord;
  private readonly state: EmulationState;
  private readonly units: Unit[];
  private readonly runtime = new Map<string, Runtime>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly dir: string, private readonly record: SupervisionRecord, private readonly log: Logger, private readonly policy: BackoffPolicy = DEFAULT_BACKOFF) {
    const local = readLocalRecord(dir);
    const state = readState(join(dir, EMULATION_DIR));
    if (!local || !state) throw new SupervisorError(`no local emulation is recorded in ${dir}`);
    this.local = local;
    this.state = state;
    this.units = emulationUnits(local, state);
    const now = Date.now();
    for (const u of this.units) {
      this.record.units[u.key] ??= { restarts: 0 };
      // Whatever is down now is started at once: that is what `local up` asks for.
      const r = u.current();
      const up = r !== undefined && isRunning(r);
      this.runtime.set(u.key, { crashes: 0, upSinceMs: now, dueAtMs: up ? undefined : now, starting: false });
      if (!up && r) this.record.units[u.key]!.lastExit = { code: null, signal: null, atUnixMs: now };
      if (!up) this.log.info({ unit: u.key }, `${u.what} is down: starting it`);
    }
  }

  /** Watches until stop(). */
  start(): void {
    this.record.phase = 'supervising';
    this.save();
    this.timer = setInterval(() => {
      // A failed round (a state file that could not be written) is logged; the next one tries again.
      this.ticking ??= this.tick()
        .catch((e: unknown) => this.log.error({ err: errorMessage(e) }, 'supervision round failed'))
        .finally(() => (this.ticking = undefined));
    }, POLL_MS);
  }

  /** Everything that is down is started now, its backoff forgotten (`local up` on a running supervisor). */
  healNow(): void {
    const now = Date.now();
    for (const u of this.units) {
      const rt = this.runtime.get(u.key)!;
      if (rt.dueAtMs !== undefined) {
        rt.dueAtMs = now;
        rt.crashes = 0;
      }
    }
    this.log.info('asked to start whatever is down now');
  }

  /** No more starts; waits for those under way (their PIDs are recorded already), saves. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    this.record.phase = 'stopped';
    this.save();
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const u of this.units) this.notice(u, now);
    // Due starts of the lowest tier with any; higher tiers wait for them (they depend on them).
    const due = this.units.filter((u) => {
      const rt = this.runtime.get(u.key)!;
      return !rt.starting && rt.dueAtMs !== undefined && rt.dueAtMs <= now;
    });
    if (due.length === 0 || this.stopped) return;
    const tier = Math.min(...due.map((u) => u.tier));
    const batch = due.filter((u) => u.tier === tier);
    for (let i = 0; i < batch.length && !this.stopped; i += START_PARALLELISM) {
      await Promise.all(batch.slice(i, i + START_PARALLELISM).map((u) => this.startUnit(u)));
    }
  }

  /** Sees a process that ended: its exit, and when it is started again. */
  private notice(u: Unit, now: number): void {
    const rt = this.runtime.get(u.key)!;
    if (rt.starting || rt.dueAtMs !== undefined) return;
    const r = u.current();
    if (r && isRunning(r)) {
      if (rt.crashes > 0 && now - rt.upSinceMs >= this.policy.resetAfterMs) rt.crashes = 0;
      return;
    }
    const exit = r ? takeChildExit(r.pid) : undefined;
    const status = this.status(u);
    status.lastExit = { code: exit?.code ?? null, signal: exit?.signal ?? null, atUnixMs: exit?.atUnixMs ?? now };
    rt.crashes += 1;
    const delay = restartDelayMs(this.policy, rt.crashes);
    rt.dueAtMs = now + delay;
    status.nextStartAtUnixMs = rt.dueAtMs;
    this.log.warn({ unit: u.key, pid: r?.pid, exit: describeExit(exit), restartInMs: delay, crashesInARow: rt.crashes }, `${u.what} exited (${describeExit(exit)}); starting it again in ${delay} ms`);
    this.save();
  }

  private async startUnit(u: Unit): Promise<void> {
    const rt = this.runtime.get(u.key)!;
    const status = this.status(u);
    rt.starting = true;
    const record = (pid: number): void => {
      const r = recordOf(pid);
      if (r) u.set(r);
      this.saveRecords(u);
    };
    try {
      const pid = await u.start(record);
      record(pid);
      status.restarts += 1;
      status.lastError = undefined;
      status.nextStartAtUnixMs = undefined;
      rt.dueAtMs = undefined;
      rt.upSinceMs = Date.now();
      this.log.info({ unit: u.key, pid, restarts: status.restarts }, `${u.what} started again (pid ${pid})`);
    } catch (e) {
      rt.crashes += 1;
      const delay = restartDelayMs(this.policy, rt.crashes);
      rt.dueAtMs = Date.now() + delay;
      status.lastError = errorMessage(e);
      status.nextStartAtUnixMs = rt.dueAtMs;
      // A start that failed may have left its process: the record has it, the next start replaces it.
      const r = u.current();
      if (r && !isRunning(r)) takeChildExit(r.pid);
      this.log.error({ unit: u.key, err: errorMessage(e), retryInMs: delay }, `${u.what} did not start; trying again in ${delay} ms`);
    } finally {
      rt.starting = false;
      this.save();
    }
  }

  private status(u: Unit): UnitStatus {
    return (this.record.units[u.key] ??= { restarts: 0 });
  }

  /** The record a unit lives in: endpoint.json for the coordinator, emulation.json for the rest. */
  private saveRecords(u: Unit): void {
    if (u.key === 'coordinator') writeLocalRecord(this.dir, this.local);
    else writeState(this.state);
  }

  private save(): void {
    writeSupervision(this.dir, this.record);
  }
}
