// The coordinator's durable state in SQLite (WAL): scenarios, every VM's planned spec, state and
// result, and registered agents. A restarted coordinator resumes from here: a VM whose create was
// sent but never answered is asked for again (agents make repeated creates no-ops), never twice made.
import Database from 'better-sqlite3';

export type VmPhase = 'pending' | 'sent' | 'ready' | 'failed' | 'deleting' | 'deleted';

export interface StoredScenario {
  readonly id: string;
  readonly name: string;
  readonly specJson: string;
  readonly phase: string;
  readonly error: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly testJson: string;
}

export interface StoredVm {
  readonly scenarioId: string;
  readonly vmId: string;
  readonly host: string;
  readonly specJson: string;
  readonly phase: VmPhase;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly resultJson: string;
  readonly readyAt: number;
  readonly attempts: number;
}

export interface StoredAgent {
  readonly name: string;
  readonly address: string;
  readonly underlayIp: string;
  readonly version: string;
  readonly capacity: number;
  readonly hollow: boolean;
  readonly lastSeen: number;
}

export interface VmCounts {
  requested: number;
  ready: number;
  failed: number;
  pending: number;
  deleted: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS scenarios (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, spec_json TEXT NOT NULL, phase TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  test_json TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS vms (
  scenario_id TEXT NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
  vm_id TEXT NOT NULL, host TEXT NOT NULL, spec_json TEXT NOT NULL, phase TEXT NOT NULL,
  error_code TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '', ready_at INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scenario_id, vm_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agents (
  name TEXT PRIMARY KEY, address TEXT NOT NULL, underlay_ip TEXT NOT NULL, version TEXT NOT NULL,
  capacity INTEGER NOT NULL, hollow INTEGER NOT NULL, last_seen INTEGER NOT NULL
);
`;

interface VmRow {
  scenario_id: string; vm_id: string; host: string; spec_json: string; phase: VmPhase; error_code: string;
  error_message: string; result_json: string; ready_at: number; attempts: number;
}

function vmFromRow(r: VmRow): StoredVm {
  return {
    scenarioId: r.scenario_id, vmId: r.vm_id, host: r.host, specJson: r.spec_json, phase: r.phase, errorCode: r.error_code,
    errorMessage: r.error_message, resultJson: r.result_json, readyAt: r.ready_at, attempts: r.attempts,
  };
}

export class Store {
  private readonly db: Database.Database;

  /** `path` ':memory:' for tests; a file otherwise (created if missing). */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a crash loses at most the last transactions, never corrupts; SIGKILL loses nothing.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Throws unless the database answers (readiness). */
  check(): void {
    this.db.prepare('SELECT 1').get();
  }

  insertScenario(s: StoredScenario, vms: readonly Omit<StoredVm, 'phase' | 'errorCode' | 'errorMessage' | 'resultJson' | 'readyAt' | 'attempts'>[]): void {
    const insertS = this.db.prepare(
      'INSERT INTO scenarios (id, name, spec_json, phase, error, created_at, updated_at, test_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertV = this.db.prepare("INSERT INTO vms (scenario_id, vm_id, host, spec_json, phase) VALUES (?, ?, ?, ?, 'pending')");
    this.db.transaction(() => {
      insertS.run(s.id, s.name, s.specJson, s.phase, s.error, s.createdAt, s.updatedAt, s.testJson);
      for (const v of vms) insertV.run(s.id, v.vmId, v.host, v.specJson);
    })();
  }

  getScenario(id: string): StoredScenario | undefined {
    const r = this.db.prepare('SELECT * FROM scenarios WHERE id = ?').get(id) as
      | { id: string; name: string; spec_json: string; phase: string; error: string; created_at: number; updated_at: number; test_json: string }
      | undefined;
    return r && { id: r.id, name: r.name, specJson: r.spec_json, phase: r.phase, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at, testJson: r.test_json };
  }

  listScenarios(): StoredScenario[] {
    const ids = this.db.prepare('SELECT id FROM scenarios ORDER BY created_at').all() as { id: string }[];
    return ids.map((r) => this.getScenario(r.id)!);
  }

  setScenarioPhase(id: string, phase: string, error = ''): void {
    this.db.prepare('UPDATE scenarios SET phase = ?, error = ?, updated_at = ? WHERE id = ?').run(phase, error, Date.now(), id);
  }

  setScenarioTest(id: string, testJson: string): void {
    this.db.prepare('UPDATE scenarios SET test_json = ?, updated_at = ? WHERE id = ?').run(testJson, Date.now(), id);
  }

  deleteScenario(id: string): void {
    this.db.prepare('DELETE FROM scenarios WHERE id = ?').run(id);
  }

  vmsOf(scenarioId: string, host?: string): StoredVm[] {
    const rows = (host === undefined
      ? this.db.prepare('SELECT * FROM vms WHERE scenario_id = ?').all(scenarioId)
      : this.db.prepare('SELECT * FROM vms WHERE scenario_id = ? AND host = ?').all(scenarioId, host)) as VmRow[];
    return rows.map(vmFromRow);
  }

  /** Every VM's id and phase (cheap: no specs or results). */
  vmPhases(scenarioId: string): Array<[string, VmPhase]> {
    return (this.db.prepare('SELECT vm_id, phase FROM vms WHERE scenario_id = ?').raw().all(scenarioId) as Array<[string, VmPhase]>);
  }

  /** Marks VMs as sent to their agent (before the call, so a crash can tell what may exist). */
  markSent(scenarioId: string, vmIds: readonly string[]): void {
    const st = this.db.prepare("UPDATE vms SET phase = 'sent', attempts = attempts + 1 WHERE scenario_id = ? AND vm_id = ?");
    this.db.transaction(() => {
      for (const id of vmIds) st.run(scenarioId, id);
    })();
  }

  /** Records results in one transaction (results arrive in bursts; one commit per burst). */
  recordResults(scenarioId: string, results: readonly { vmId: string; phase: VmPhase; errorCode: string; errorMessage: string; resultJson: string; at: number }[]): void {
    const st = this.db.prepare(
      'UPDATE vms SET phase = ?, error_code = ?, error_message = ?, result_json = ?, ready_at = ? WHERE scenario_id = ? AND vm_id = ?',
    );
    this.db.transaction(() => {
      for (const r of results) st.run(r.phase, r.errorCode, r.errorMessage, r.resultJson, r.at, scenarioId, r.vmId);
    })();
  }

  setVmPhase(scenarioId: string, vmIds: readonly string[], phase: VmPhase): void {
    const st = this.db.prepare('UPDATE vms SET phase = ? WHERE scenario_id = ? AND vm_id = ?');
    this.db.transaction(() => {
      for (const id of vmIds) st.run(phase, scenarioId, id);
    })();
  }

  counts(scenarioId: string): VmCounts {
    const rows = this.db.prepare('SELECT phase, COUNT(*) AS n FROM vms WHERE scenario_id = ? GROUP BY phase').all(scenarioId) as { phase: VmPhase; n: number }[];
    const c: VmCounts = { requested: 0, ready: 0, failed: 0, pending: 0, deleted: 0 };
    for (const { phase, n } of rows) {
      c.requested += n;
      if (phase === 'ready') c.ready += n;
      else if (phase === 'failed') c.failed += n;
      else if (phase === 'deleted') c.deleted += n;
      else c.pending += n;
    }
    return c;
  }

  upsertAgent(a: StoredAgent): void {
    this.db
      .prepare(
        `INSERT INTO agents (name, address, underlay_ip, version, capacity, hollow, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET address = excluded.address, underlay_ip = excluded.underlay_ip, version = excluded.version,
         capacity = excluded.capacity, hollow = excluded.hollow, last_seen = excluded.last_seen`,
      )
      .run(a.name, a.address, a.underlayIp, a.version, a.capacity, a.hollow ? 1 : 0, a.lastSeen);
  }

  touchAgent(name: string, at: number): void {
    this.db.prepare('UPDATE agents SET last_seen = ? WHERE name = ?').run(at, name);
  }

  listAgents(): StoredAgent[] {
    const rows = this.db.prepare('SELECT * FROM agents ORDER BY name').all() as
      { name: string; address: string; underlay_ip: string; version: string; capacity: number; hollow: number; last_seen: number }[];
    return rows.map((r) => ({ name: r.name, address: r.address, underlayIp: r.underlay_ip, version: r.version, capacity: r.capacity, hollow: r.hollow === 1, lastSeen: r.last_seen }));
  }
}
