// The coordinator's durable state in SQLite (WAL): scenarios (the validated scenario, its hosts
// and when it was accepted: enough to plan it again, exactly), VM results, and the objects made
// in a control plane. A VM without a result has not been answered for yet: a restarted
// coordinator asks its agent again, and the agent answers a repeated create of the same VM with
// the VM it has, so none is made twice. Plans are not stored: they are derived. Agents are not
// stored either: they register again within seconds of a restart.
//
// Results are a log, appended in the order they arrive; a VM's latest row is its result. They come
// from thousands of agents at once, so a table keyed by (scenario, VM) took each row into the
// middle of its B-tree: 19 s of CPU for a million results arriving as from 10,000 agents, against
// 1.8 s appended (the readers sort once, ~1.7 s, when a report is built).
import { type ErrorContext, MerakError } from '@merak/common';
import Database from 'better-sqlite3';

export type VmPhase = 'ready' | 'failed';

export const VM_PHASE_CODE: Readonly<Record<VmPhase, number>> = { ready: 1, failed: 2 };

export interface StoredScenario {
  /** Small integer, unique for the life of the database (port-name tags derive from it). */
  readonly seq: number;
  readonly id: string;
  readonly name: string;
  readonly specJson: string;
  readonly phase: string;
  readonly error: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly reportJson: string;
}

/** A VM's steps as the store keeps them: "name=micros;name=micros", in the order they ran. */
export function stepsText(steps: ReadonlyArray<{ readonly step: string; readonly micros: number }>): string {
  let text = '';
  for (const s of steps) text += `${text === '' ? '' : ';'}${s.step}=${s.micros}`;
  return text;
}

/** One VM's result as stored; `steps` is stepsText's. */
export interface VmResultRow {
  readonly vmIndex: number;
  readonly phase: VmPhase;
  /** The VM's address as its agent answered ('' = none): in Alcor mode, the one Alcor allocated. */
  readonly ip: string;
  /** ms after the scenario was accepted */
  readonly atMs: number;
  readonly totalMicros: number;
  readonly steps: string;
  readonly errorCode: string;
  readonly errorStep: string;
  readonly errorMessage: string;
}

export class StoreError extends MerakError {
  constructor(message: string, context: ErrorContext = {}) {
    super('STORE', message, { context });
  }
}

/** One entry of a scenario's timeline (phases, agents lost and back, stalls, the failure). */
export interface ScenarioEvent {
  /** ms after the scenario was accepted */
  readonly atMs: number;
  readonly kind: string;
  readonly message: string;
}

const EVENTS_TABLE = `CREATE TABLE IF NOT EXISTS scenario_events (
  scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE,
  n INTEGER NOT NULL, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
  PRIMARY KEY (scenario_seq, n)
) WITHOUT ROWID`;

const RESULTS_TABLE = `CREATE TABLE IF NOT EXISTS vm_results (
  scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE,
  vm_index INTEGER NOT NULL, phase INTEGER NOT NULL, at_ms INTEGER NOT NULL, total_us INTEGER NOT NULL,
  steps TEXT NOT NULL, error_code TEXT, error_step TEXT, error_message TEXT, ip TEXT NOT NULL DEFAULT ''
)`;
const RESULTS_INDEX = 'CREATE INDEX IF NOT EXISTS vm_results_by_scenario ON vm_results (scenario_seq)';

const RESULT_COLUMNS = 'scenario_seq, vm_index, phase, at_ms, total_us, steps, error_code, error_step, error_message, ip';

const SCHEMA_VERSION = 5;
/** An older schema this one upgrades in place: statements, in order, from each version. */
const UPGRADES: Readonly<Record<number, string>> = {
  2: "ALTER TABLE vm_results ADD COLUMN ip TEXT NOT NULL DEFAULT ''",
  3: EVENTS_TABLE,
  // Results keyed by (scenario, VM) become the appended log, their order kept.
  4: `ALTER TABLE vm_results RENAME TO vm_results_v4; ${RESULTS_TABLE};
      INSERT INTO vm_results (${RESULT_COLUMNS}) SELECT ${RESULT_COLUMNS} FROM vm_results_v4 ORDER BY scenario_seq, vm_index;
      DROP TABLE vm_results_v4; ${RESULTS_INDEX}`,
};
const ROWS_PER_INSERT = 64;
/** Parameters of one result row in the INSERT. */
const RESULT_PARAMS = 10;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS scenarios (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, spec_json TEXT NOT NULL,
  phase TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  report_json TEXT NOT NULL DEFAULT ''
);
${RESULTS_TABLE};
${RESULTS_INDEX};
CREATE TABLE IF NOT EXISTS control_plane (
  scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE,
  kind TEXT NOT NULL, name TEXT NOT NULL, remote_id TEXT NOT NULL, detail_json TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (scenario_seq, kind, name)
) WITHOUT ROWID;
${EVENTS_TABLE};
`;

interface ScenarioRow {
  seq: number; id: string; name: string; spec_json: string; phase: string; error: string; created_at: number; updated_at: number; report_json: string;
}

const fromRow = (r: ScenarioRow): StoredScenario => ({
  seq: r.seq, id: r.id, name: r.name, specJson: r.spec_json, phase: r.phase, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at, reportJson: r.report_json,
});

const PHASE_OF_CODE: Readonly<Record<number, VmPhase>> = { 1: 'ready', 2: 'failed' };

export class Store {
  private readonly db: Database.Database;
  private readonly insertResult: Database.Statement;
  private readonly insertResults: Database.Statement;
  private readonly resultParams: unknown[] = new Array<unknown>(ROWS_PER_INSERT * RESULT_PARAMS).fill(null);

  /** `path` ':memory:' for tests; a file otherwise (created if missing). */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a power loss may lose the last transactions, never corrupts; SIGKILL loses nothing committed.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    const tables = (this.db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
    if (tables > 0 && version !== SCHEMA_VERSION && UPGRADES[version] !== undefined) {
      // All or nothing: a failed upgrade leaves the database as it was.
      this.db.transaction(() => {
        for (let v = version; v < SCHEMA_VERSION; v++) this.db.exec(UPGRADES[v]!);
      })();
    } else if (version !== SCHEMA_VERSION && tables > 0) {
      this.db.close();
      throw new StoreError(`${path} holds state of another Merak-TS version (schema ${version}, this one reads ${SCHEMA_VERSION}); move it away or give another --state`, { path, schema: version });
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const insert = (rows: number): Database.Statement => this.db.prepare(
      `INSERT INTO vm_results (${RESULT_COLUMNS}) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    );
    this.insertResult = insert(1);
    this.insertResults = insert(ROWS_PER_INSERT);
  }

  close(): void {
    this.db.close();
  }

  /** Throws unless the database answers (readiness). */
  check(): void {
    this.db.prepare('SELECT 1').get();
  }

  /** Stores a new scenario and returns it with its seq. */
  insertScenario(s: Omit<StoredScenario, 'seq' | 'reportJson'>): StoredScenario {
    const info = this.db
      .prepare('INSERT INTO scenarios (id, name, spec_json, phase, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.id, s.name, s.specJson, s.phase, s.error, s.createdAt, s.updatedAt);
    return { ...s, seq: Number(info.lastInsertRowid), reportJson: '' };
  }

  getScenario(id: string): StoredScenario | undefined {
    const r = this.db.prepare('SELECT * FROM scenarios WHERE id = ?').get(id) as ScenarioRow | undefined;
    return r && fromRow(r);
  }

  listScenarios(): StoredScenario[] {
    return (this.db.prepare('SELECT * FROM scenarios ORDER BY seq').all() as ScenarioRow[]).map(fromRow);
  }

  /** The next scenario's seq (AUTOINCREMENT: never reused, even after deletes). */
  nextSeq(): number {
    const r = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'scenarios'").get() as { seq: number } | undefined;
    return (r?.seq ?? 0) + 1;
  }

  /** A new phase (and, when given, the spec with its latest counts). */
  setScenarioPhase(id: string, phase: string, error = '', specJson?: string): void {
    if (specJson === undefined) this.db.prepare('UPDATE scenarios SET phase = ?, error = ?, updated_at = ? WHERE id = ?').run(phase, error, Date.now(), id);
    else this.db.prepare('UPDATE scenarios SET phase = ?, error = ?, spec_json = ?, updated_at = ? WHERE id = ?').run(phase, error, specJson, Date.now(), id);
  }

  setScenarioReport(id: string, reportJson: string): void {
    this.db.prepare('UPDATE scenarios SET report_json = ?, updated_at = ? WHERE id = ?').run(reportJson, Date.now(), id);
  }

  deleteScenario(id: string): void {
    this.db.prepare('DELETE FROM scenarios WHERE id = ?').run(id);
  }

  /**
   * Records results in one transaction (results arrive in bursts; one commit per burst), many rows
   * to a statement: a call into SQLite costs more than a row. A VM's later result supersedes its
   * earlier one.
   */
  recordResults(seq: number, rows: readonly VmResultRow[]): void {
    // Parameters written into one reused array: a million results make no garbage here.
    const params = this.resultParams;
    const put = (target: unknown[], at: number, r: VmResultRow): void => {
      target[at] = seq;
      target[at + 1] = r.vmIndex;
      target[at + 2] = VM_PHASE_CODE[r.phase];
      target[at + 3] = Math.round(r.atMs);
      target[at + 4] = r.totalMicros;
      target[at + 5] = r.steps;
      target[at + 6] = r.errorCode || null;
      target[at + 7] = r.errorStep || null;
      target[at + 8] = r.errorMessage || null;
      target[at + 9] = r.ip;
    };
    this.db.transaction(() => {
      let i = 0;
      for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
        for (let k = 0; k < ROWS_PER_INSERT; k++) put(params, k * RESULT_PARAMS, rows[i + k]!);
        this.insertResults.run(params);
      }
      const one = new Array<unknown>(RESULT_PARAMS);
      for (; i < rows.length; i++) {
        put(one, 0, rows[i]!);
        this.insertResult.run(one);
      }
    })();
  }

  /** Every VM's result (its latest) of a scenario, in VM index order, one at a time (a million fit in no array). */
  *results(seq: number): Generator<VmResultRow> {
    const st = this.db.prepare('SELECT vm_index, phase, at_ms, total_us, steps, error_code, error_step, error_message, ip FROM vm_results WHERE scenario_seq = ? ORDER BY vm_index, rowid').raw();
    type Raw = [number, number, number, number, string, string | null, string | null, string | null, string];
    const toRow = (row: Raw): VmResultRow => ({
      vmIndex: row[0], phase: PHASE_OF_CODE[row[1]] ?? 'failed', atMs: row[2], totalMicros: row[3], steps: row[4], errorCode: row[5] ?? '', errorStep: row[6] ?? '', errorMessage: row[7] ?? '', ip: row[8],
    });
    // Rows of one VM come together, oldest first: each is yielded once the next VM's starts.
    let held: Raw | undefined;
    for (const row of st.iterate(seq) as Iterable<Raw>) {
      if (held !== undefined && held[0] !== row[0]) yield toRow(held);
      held = row;
    }
    if (held !== undefined) yield toRow(held);
  }

  /**
   * Adds steps timed elsewhere (the control plane's, on the coordinator) to VMs' results, in one
   * transaction: a step of the same name already there is replaced. VMs without a result are
   * skipped (their result, when it comes, carries the agent's steps only).
   */
  mergeSteps(seq: number, steps: ReadonlyMap<number, ReadonlyArray<{ step: string; micros: number }>>): number {
    const latest = new Map<number, { rowid: number; steps: string }>();
    for (const [rowid, vmIndex, current] of this.db.prepare('SELECT rowid, vm_index, steps FROM vm_results WHERE scenario_seq = ? ORDER BY rowid').raw().iterate(seq) as Iterable<[number, number, string]>) {
      if (steps.has(vmIndex)) latest.set(vmIndex, { rowid, steps: current });
    }
    const write = this.db.prepare('UPDATE vm_results SET steps = ? WHERE rowid = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const [vmIndex, extra] of steps) {
        const current = latest.get(vmIndex);
        if (extra.length === 0 || current === undefined) continue;
        const names = new Set(extra.map((x) => x.step));
        const kept = current.steps === '' ? [] : current.steps.split(';').filter((item) => !names.has(item.slice(0, item.indexOf('='))));
        write.run([...kept, ...extra.map((x) => `${x.step}=${Math.round(x.micros)}`)].join(';'), current.rowid);
        n++;
      }
    })();
    return n;
  }

  /** The address each ready VM's agent answered, as [vmIndex, ip] (for tests that need the real ones). */
  readyIps(seq: number): Array<[number, string]> {
    const rows = this.db.prepare('SELECT vm_index, phase, ip FROM vm_results WHERE scenario_seq = ? ORDER BY rowid').raw().all(seq) as Array<[number, number, string]>;
    return latestPerVm(rows).filter((r) => r[1] === VM_PHASE_CODE.ready && r[2] !== '').map((r) => [r[0], r[2]]);
  }

  /** Just the phase codes of the VMs' results, as [vmIndex, code] (cheap: for resuming). */
  resultPhases(seq: number): Array<[number, number]> {
    return latestPerVm(this.db.prepare('SELECT vm_index, phase FROM vm_results WHERE scenario_seq = ? ORDER BY rowid').raw().all(seq) as Array<[number, number]>);
  }

  /** Remembers an object made in the control plane for a scenario (kind: "vpc", "subnet", "port", ...). */
  putControlPlaneObject(seq: number, kind: string, name: string, remoteId: string, detailJson = ''): void {
    this.db
      .prepare('INSERT INTO control_plane (scenario_seq, kind, name, remote_id, detail_json) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET remote_id = excluded.remote_id, detail_json = excluded.detail_json')
      .run(seq, kind, name, remoteId, detailJson);
  }

  controlPlaneObjects(seq: number, kind?: string): Array<{ kind: string; name: string; remoteId: string; detailJson: string }> {
    const rows = (kind === undefined
      ? this.db.prepare('SELECT kind, name, remote_id, detail_json FROM control_plane WHERE scenario_seq = ? ORDER BY kind, name').all(seq)
      : this.db.prepare('SELECT kind, name, remote_id, detail_json FROM control_plane WHERE scenario_seq = ? AND kind = ? ORDER BY name').all(seq, kind)) as Array<{ kind: string; name: string; remote_id: string; detail_json: string }>;
    return rows.map((r) => ({ kind: r.kind, name: r.name, remoteId: r.remote_id, detailJson: r.detail_json }));
  }

  /** Appends to a scenario's timeline. */
  addEvent(seq: number, e: ScenarioEvent): void {
    this.db
      .prepare('INSERT INTO scenario_events (scenario_seq, n, at_ms, kind, message) VALUES (?, (SELECT coalesce(max(n), 0) + 1 FROM scenario_events WHERE scenario_seq = ?), ?, ?, ?)')
      .run(seq, seq, Math.round(e.atMs), e.kind, e.message);
  }

  /** A scenario's timeline, oldest first. */
  events(seq: number): ScenarioEvent[] {
    return (this.db.prepare('SELECT at_ms, kind, message FROM scenario_events WHERE scenario_seq = ? ORDER BY n').all(seq) as Array<{ at_ms: number; kind: string; message: string }>)
      .map((r) => ({ atMs: r.at_ms, kind: r.kind, message: r.message }));
  }

  deleteControlPlaneObject(seq: number, kind: string, name: string): void {
    this.db.prepare('DELETE FROM control_plane WHERE scenario_seq = ? AND kind = ? AND name = ?').run(seq, kind, name);
  }
}

/** Of rows in the order they were stored, each VM's last (by its index, the row's first field), in that order. */
function latestPerVm<Row extends [number, ...unknown[]]>(rows: readonly Row[]): Row[] {
  let seen = new Uint8Array(1024);
  const kept: Row[] = [];
  for (let k = rows.length - 1; k >= 0; k--) {
    const vm = rows[k]![0];
    if (vm >= seen.length) {
      const grown = new Uint8Array(Math.max(vm + 1, seen.length * 2));
      grown.set(seen);
      seen = grown;
    }
    if (seen[vm] === 1) continue;
    seen[vm] = 1;
    kept.push(rows[k]!);
  }
  return kept.reverse();
}
