import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from './store.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const scenario = { id: 's1', name: 'demo', specJson: '{}', phase: 'creating', error: '', createdAt: 1, updatedAt: 1, testJson: '' };

describe('Store', () => {
  it('tracks VM phases and counts', () => {
    const store = new Store(':memory:');
    store.insertScenario(scenario, [0, 1, 2].map((i) => ({ scenarioId: 's1', vmId: `v${i}`, host: `h${i % 2}`, specJson: '{}' })));
    store.markSent('s1', ['v0', 'v1']);
    store.recordResults('s1', [
      { vmId: 'v0', phase: 'ready', errorCode: '', errorMessage: '', resultJson: '{}', at: 5 },
      { vmId: 'v1', phase: 'failed', errorCode: 'NETLINK', errorMessage: 'EEXIST', resultJson: '{}', at: 6 },
    ]);
    expect(store.counts('s1')).toEqual({ requested: 3, ready: 1, failed: 1, pending: 1, deleted: 0 });
    expect(store.vmsOf('s1', 'h0').map((v) => [v.vmId, v.phase, v.attempts])).toEqual([['v0', 'ready', 1], ['v2', 'pending', 0]]);
    store.deleteScenario('s1');
    expect(store.vmsOf('s1')).toEqual([]);
    store.close();
  });

  it('keeps every committed write when the process is killed with SIGKILL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'merak-store-'));
    dirs.push(dir);
    const db = join(dir, 'state.db');
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
    const store = new Store(db);
    store.close();
    const count = execFileSync(process.execPath, ['-e', `const D=require('better-sqlite3');console.log(new D('${db}').prepare('select count(*) n from t').get().n)`]).toString().trim();
    expect(count).toBe('1000');
  });
});
