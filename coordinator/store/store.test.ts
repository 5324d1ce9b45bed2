import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Store, StoreError } from './store.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'merak-store-'));
  dirs.push(d);
  return d;
};

const scenario = { id: 's1', name: 'demo', specJson: '{}', phase: 'creating', error: '', createdAt: 1, updatedAt: 1 };
const row = (vmIndex: number, phase: 'ready' | 'failed', extra: object = {}) => ({
  vmIndex, phase, atMs: 10 + vmIndex, totalMicros: 100, steps: 'namespace=5', errorCode: '', errorStep: '', errorMessage: '', ip: '', ...extra,
});

describe('Store', () => {
  it('numbers scenarios, keeps results (the latest per VM) and reads them back in order', () => {
    const store = new Store(':memory:');
    expect(store.nextSeq()).toBe(1);
    const s = store.insertScenario(scenario);
    expect(s.seq).toBe(1);
    expect(store.nextSeq()).toBe(2);
    store.recordResults(s.seq, [row(2, 'failed', { errorCode: 'NETLINK', errorStep: 'port', errorMessage: 'EEXIST' }), row(0, 'ready')]);
    store.recordResults(s.seq, [row(2, 'ready')]);
    expect([...store.results(s.seq)].map((r) => [r.vmIndex, r.phase, r.errorCode])).toEqual([[0, 'ready', ''], [2, 'ready', '']]);
    expect(store.resultPhases(s.seq).sort()).toEqual([[0, 1], [2, 1]]);
    store.setScenarioPhase('s1', 'ready', '', '{"x":1}');
    expect(store.getScenario('s1')).toMatchObject({ phase: 'ready', specJson: '{"x":1}' });
    store.putControlPlaneObject(s.seq, 'vpc', 'vpc1', 'uuid-1');
    expect(store.controlPlaneObjects(s.seq)).toEqual([{ kind: 'vpc', name: 'vpc1', remoteId: 'uuid-1', detailJson: '' }]);
    store.deleteScenario('s1');
    expect([...store.results(s.seq)]).toEqual([]);
    expect(store.controlPlaneObjects(s.seq)).toEqual([]);
    // A deleted scenario's seq is never given again (port names derive from it).
    expect(store.insertScenario({ ...scenario, id: 's2' }).seq).toBe(2);
    store.close();
  });

  it("merges steps timed on the coordinator into VMs' stored steps (a step of the same name replaced; VMs without a result skipped)", () => {
    const store = new Store(':memory:');
    const s = store.insertScenario(scenario);
    store.recordResults(s.seq, [row(0, 'ready', { steps: 'namespace=5;installed=40' }), row(1, 'failed', { steps: '' })]);
    const n = store.mergeSteps(s.seq, new Map([
      [0, [{ step: 'nb-write', micros: 1200.4 }, { step: 'bound', micros: 30 }]], [1, [{ step: 'nb-write', micros: 7 }]], [5, [{ step: 'nb-write', micros: 1 }]],
    ]));
    expect(n).toBe(2);
    store.mergeSteps(s.seq, new Map([[0, [{ step: 'bound', micros: 31 }]]]));
    expect([...store.results(s.seq)].map((r) => r.steps)).toEqual(['namespace=5;installed=40;nb-write=1200;bound=31', 'nb-write=7']);
    store.close();
  });

  it('writes large bursts in multi-row statements, every row once', () => {
    const store = new Store(':memory:');
    const s = store.insertScenario(scenario);
    store.recordResults(s.seq, Array.from({ length: 150 }, (_, i) => row(149 - i, i % 7 === 0 ? 'failed' : 'ready')));
    const back = [...store.results(s.seq)];
    expect(back.map((r) => r.vmIndex)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(back.filter((r) => r.phase === 'failed')).toHaveLength(22);
    store.close();
  });

  it("keeps each VM's address as its agent answered it, and lists the ready ones", () => {
    const store = new Store(':memory:');
    const s = store.insertScenario(scenario);
    store.recordResults(s.seq, [row(0, 'ready', { ip: '10.1.0.7' }), row(1, 'failed'), row(2, 'ready', { ip: '10.1.0.3' })]);
    expect([...store.results(s.seq)].map((r) => r.ip)).toEqual(['10.1.0.7', '', '10.1.0.3']);
    expect(store.readyIps(s.seq).sort()).toEqual([[0, '10.1.0.7'], [2, '10.1.0.3']]);
    store.close();
  });

  it('upgrades the previous schema in place: its results are kept, without addresses', () => {
    const db = join(tmp(), 'v2.db');
    const old = new Database(db);
    old.exec(`CREATE TABLE scenarios (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, spec_json TEXT NOT NULL,
      phase TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, report_json TEXT NOT NULL DEFAULT '');
      CREATE TABLE vm_results (scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE, vm_index INTEGER NOT NULL, phase INTEGER NOT NULL,
      at_ms INTEGER NOT NULL, total_us INTEGER NOT NULL, steps TEXT NOT NULL, error_code TEXT, error_step TEXT, error_message TEXT,
      PRIMARY KEY (scenario_seq, vm_index)) WITHOUT ROWID;
      INSERT INTO scenarios (id, name, spec_json, phase, created_at, updated_at) VALUES ('s1', 'demo', '{}', 'ready', 1, 1);
      INSERT INTO vm_results VALUES (1, 0, 1, 10, 100, 'namespace=5', NULL, NULL, NULL);`);
    old.pragma('user_version = 2');
    old.close();
    const store = new Store(db);
    expect([...store.results(1)]).toEqual([{ vmIndex: 0, phase: 'ready', atMs: 10, totalMicros: 100, steps: 'namespace=5', errorCode: '', errorStep: '', errorMessage: '', ip: '' }]);
    store.recordResults(1, [row(1, 'ready', { ip: '10.1.0.9' })]);
    expect(store.readyIps(1)).toEqual([[1, '10.1.0.9']]);
    store.close();
  });

  it("reads each VM's latest result everywhere: a VM ready, then failed, is failed and has no address", () => {
    const store = new Store(':memory:');
    const s = store.insertScenario(scenario);
    const other = store.insertScenario({ ...scenario, id: 's2' });
    store.recordResults(s.seq, [row(1, 'ready', { ip: '10.1.0.1' }), row(0, 'failed')]);
    store.recordResults(other.seq, [row(0, 'ready', { ip: '10.9.0.9' })]);
    store.recordResults(s.seq, [row(1, 'failed', { errorCode: 'LOST' }), row(0, 'ready', { ip: '10.1.0.2' })]);
    expect([...store.results(s.seq)].map((r) => [r.vmIndex, r.phase, r.ip, r.errorCode])).toEqual([[0, 'ready', '10.1.0.2', ''], [1, 'failed', '', 'LOST']]);
    expect(store.readyIps(s.seq)).toEqual([[0, '10.1.0.2']]);
    expect(store.resultPhases(s.seq).sort()).toEqual([[0, 1], [1, 2]]);
    expect(store.mergeSteps(s.seq, new Map([[1, [{ step: 'bound', micros: 9 }]]]))).toBe(1);
    expect([...store.results(s.seq)][1]!.steps).toBe('namespace=5;bound=9');
    expect([...store.results(other.seq)].map((r) => r.ip)).toEqual(['10.9.0.9']);
    store.close();
  });

  it('upgrades a schema 4 database (results keyed by scenario and VM) in place: results kept, later ones supersede them', () => {
    const db = join(tmp(), 'v4.db');
    const old = new Database(db);
    old.exec(`CREATE TABLE scenarios (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, spec_json TEXT NOT NULL,
      phase TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, report_json TEXT NOT NULL DEFAULT '');
      CREATE TABLE vm_results (scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE, vm_index INTEGER NOT NULL, phase INTEGER NOT NULL,
      at_ms INTEGER NOT NULL, total_us INTEGER NOT NULL, steps TEXT NOT NULL, error_code TEXT, error_step TEXT, error_message TEXT, ip TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (scenario_seq, vm_index)) WITHOUT ROWID;
      CREATE TABLE scenario_events (scenario_seq INTEGER NOT NULL REFERENCES scenarios(seq) ON DELETE CASCADE,
      n INTEGER NOT NULL, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (scenario_seq, n)) WITHOUT ROWID;
      INSERT INTO scenarios (id, name, spec_json, phase, created_at, updated_at) VALUES ('s1', 'demo', '{}', 'ready', 1, 1);
      INSERT INTO vm_results VALUES (1, 1, 2, 11, 100, 'namespace=5', 'NETLINK', 'port', 'EEXIST', '');
      INSERT INTO vm_results VALUES (1, 0, 1, 10, 100, 'namespace=5', NULL, NULL, NULL, '10.1.0.5');`);
    old.pragma('user_version = 4');
    old.close();
    const store = new Store(db);
    expect([...store.results(1)].map((r) => [r.vmIndex, r.phase, r.ip, r.errorMessage])).toEqual([[0, 'ready', '10.1.0.5', ''], [1, 'failed', '', 'EEXIST']]);
    store.recordResults(1, [row(1, 'ready', { ip: '10.1.0.6' })]);
    expect(store.readyIps(1).sort()).toEqual([[0, '10.1.0.5'], [1, '10.1.0.6']]);
    store.close();
    const check = new Database(db);
    expect(check.pragma('user_version', { simple: true })).toBe(5);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vm_results'").pluck().all()).toEqual(['vm_results_by_scenario']);
    check.close();
  });

  it("keeps each scenario's timeline in order, and removes it with the scenario", () => {
    const store = new Store(':memory:');
    const s = store.insertScenario(scenario);
    store.addEvent(s.seq, { atMs: 3, kind: 'phase', message: 'network' });
    store.addEvent(s.seq, { atMs: 2.6, kind: 'failed', message: 'subnet create answered 500' });
    expect(store.events(s.seq)).toEqual([{ atMs: 3, kind: 'phase', message: 'network' }, { atMs: 3, kind: 'failed', message: 'subnet create answered 500' }]);
    store.deleteScenario('s1');
    expect(store.events(s.seq)).toEqual([]);
    store.close();
  });

  it('upgrades a schema 3 database in place: it gains timelines, its scenarios kept', () => {
    const db = join(tmp(), 'v3.db');
    const v3 = new Store(db);
    v3.insertScenario(scenario);
    v3.close();
    const raw = new Database(db);
    raw.exec('DROP TABLE scenario_events');
    raw.pragma('user_version = 3');
    raw.close();
    const store = new Store(db);
    expect(store.listScenarios().map((x) => x.id)).toEqual(['s1']);
    store.addEvent(1, { atMs: 1, kind: 'phase', message: 'creating' });
    expect(store.events(1)).toHaveLength(1);
    store.close();
  });

  it('refuses a database written by another schema version, changing nothing in it', () => {
    const db = join(tmp(), 'old.db');
    const old = new Database(db);
    old.exec('CREATE TABLE scenarios (id TEXT PRIMARY KEY)');
    old.close();
    expect(() => new Store(db)).toThrow(StoreError);
    const check = new Database(db);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: 'scenarios' }]);
    check.close();
  });

  it('keeps every committed write when the process is killed with SIGKILL', () => {
    const db = join(tmp(), 'state.db');
    // A child commits, then kills itself without closing the database.
    const child = `
      const Database = require('better-sqlite3');
      const d = new Database('${db}');
      d.pragma('journal_mode = WAL'); d.pragma('synchronous = NORMAL');
      d.exec("CREATE TABLE t (x INTEGER)");
      const ins = d.prepare('INSERT INTO t VALUES (?)');
      d.transaction(() => { for (let i = 0; i < 1000; i++) ins.run(i); })();
      process.kill(process.pid, 'SIGKILL');`;
    expect(() => execFileSync(process.execPath, ['-e', child], { cwd: process.cwd() })).toThrow();
    const count = execFileSync(process.execPath, ['-e', `const D=require('better-sqlite3');console.log(new D('${db}').prepare('select count(*) n from t').get().n)`]).toString().trim();
    expect(count).toBe('1000');
  });
});
