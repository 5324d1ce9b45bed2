// The local emulation heals, with real processes: a coordinator killed mid-run (its supervisor
// killed too, so nothing heals by itself) comes back with `local up`, which says what it
// restarted, and the same run completes with nothing made twice; an agent killed is started again
// by the supervisor alone (`local status` shows the restart and the signal); `local up --fresh`
// starts clean; `local down` leaves nothing, the supervisor included.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localStatus, localUp } from '../../lab/cli/local.js';
import { readLocalRecord } from '../../lab/local/local-record.js';
import { type ProcessRecord, isRunning, signalRecorded } from '../../lab/local/process-record.js';
import { vmsFromOvsdb } from '../../lab/local/recorded-vms.js';
import { readSupervision } from '../../lab/local/supervisor/supervision-file.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('h');
const dir = mkdtempSync(join(tmpdir(), 'merak-heal-'));
const local = join(dir, 'local');
const quiet = (): void => undefined;
let up: LocalUp;
let client: CoordinatorClient;
/** Every supervisor this file saw, to check none survives. */
const supervisors: ProcessRecord[] = [];

const { SCENARIO_PHASE_READY: READY, SCENARIO_PHASE_FAILED: FAILED } = coordinatorV1.ScenarioPhase;

async function until(what: string, id: string, ok: (s: coordinatorV1.Scenario) => boolean, ms = 240_000): Promise<coordinatorV1.Scenario> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await client.getScenario(id);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${JSON.stringify(s.vms)}, phase ${s.phase}, ${s.error})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const settled = (s: coordinatorV1.Scenario): boolean => s.phase === READY || s.phase === FAILED;

function supervisorNow(): ProcessRecord {
  const r = readSupervision(local)!.supervisor;
  if (!supervisors.some((s) => s.pid === r.pid)) supervisors.push(r);
  return r;
}

/** Each VM of the run as the kernel and the vhosts' OVS know it. */
async function vmsOnTheMachine(name: string): Promise<{ namespaces: string[]; ovsPorts: string[] }> {
  const ovsPorts = (await Promise.all(up.emulation.vhosts.map((v) => vmsFromOvsdb(v.dbSocket, v.name)))).flat().filter((n) => n.startsWith(`${name}-`));
  return { namespaces: namespacesWithPrefix(`${name}-`), ovsPorts };
}

beforeAll(async () => {
  up = await localUp({ dir: local, hosts: 5, prefix, log: quiet });
  supervisorNow();
  client = connect({ localDir: local });
}, 180_000);

afterAll(async () => {
  client?.close();
  await localDown(local, quiet).catch(() => undefined);
  await sweepEmulation(join(local, 'emulation'), prefix);
  for (const s of supervisors) signalRecorded(s, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('local emulation that heals', () => {
  it('coordinator SIGKILL mid-run, supervisor gone too: local up restarts both, says so, and the same run completes with nothing made twice', async () => {
    const name = `${prefix}-heal`;
    const vms = 200;
    const created = await client.createScenario(`
name: ${name}
hosts: { count: 5 }
vpcs: [{ name: vpc1, cidr: 10.3.0.0/16, subnets: [{ name: s, cidr: 10.3.0.0/16, vms: ${vms} }] }]
schedule: { type: rps, rate: 20 }
test: { type: none }
`, 'yaml');
    const mid = await until('VMs of the run', created.id, (s) => (s.vms?.ready ?? 0) >= 30);
    // Nothing may heal by itself: the supervisor goes first, then the coordinator, mid-run.
    const supervisor = supervisorNow();
    const coordinator = readLocalRecord(local)!.coordinatorProcess;
    expect(signalRecorded(supervisor, 'SIGKILL')).toBe(true);
    expect(signalRecorded(coordinator, 'SIGKILL')).toBe(true);
    expect(mid.vms!.ready).toBeLessThan(vms);
    await new Promise((r) => setTimeout(r, 1500));
    expect(isRunning(coordinator)).toBe(false);
    expect(await localStatus(local)).toMatch(/supervisor NOT RUNNING/);

    const lines: string[] = [];
    client.close();
    up = await localUp({ dir: local, hosts: 5, prefix, log: (l) => lines.push(l) });
    supervisorNow();
    client = connect({ localDir: local });
    expect(up.restarted).toEqual(['supervisor', 'coordinator']);
    expect(lines.join('\n')).toMatch(/restarted: supervisor, coordinator; kept the rest/);

    // The store was kept: the coordinator knows the run by its id and finishes it.
    const { scenarios } = await client.listScenarios();
    expect(scenarios.map((s) => s.id)).toEqual([created.id]);
    const done = await until('the run to settle', created.id, settled);
    expect(done.error).toBe('');
    expect(done.phase).toBe(READY);
    expect(done.vms).toMatchObject({ requested: vms, ready: vms, failed: 0, waiting: 0 });
    // Nothing made twice: one namespace and one OVS port per VM, no more.
    const seen = await vmsOnTheMachine(name);
    expect(seen.namespaces).toHaveLength(vms);
    expect(new Set(seen.namespaces).size).toBe(vms);
    expect(seen.ovsPorts).toHaveLength(vms);
    expect(new Set(seen.ovsPorts)).toEqual(new Set(seen.namespaces));
  }, 420_000);

  it('local up --fresh removes everything and starts clean', async () => {
    const before = { supervisor: supervisorNow(), coordinator: readLocalRecord(local)!.coordinatorProcess };
    client.close();
    up = await localUp({ dir: local, hosts: 5, prefix, log: quiet, fresh: true });
    supervisorNow();
    client = connect({ localDir: local });
    expect(up.restarted).toEqual([]);
    expect(isRunning(before.supervisor)).toBe(false);
    expect(isRunning(before.coordinator)).toBe(false);
    // A new store, no VM of the old run, every vhost registered again.
    expect((await client.listScenarios()).scenarios).toEqual([]);
    expect(namespacesWithPrefix(`${prefix}-heal-`)).toEqual([]);
    expect((await client.listAgents()).agents.filter((a) => a.connected).map((a) => a.info?.name).sort()).toEqual(up.emulation.vhosts.map((v) => v.name).sort());
  }, 240_000);

  it('agent SIGKILL: the supervisor starts it again by itself, local status shows 1 restart and the signal, and the run completes', async () => {
    const name = `${prefix}-agent`;
    const created = await client.createScenario(`
name: ${name}
hosts: { count: 5 }
vpcs: [{ name: vpc1, cidr: 10.4.0.0/16, subnets: [{ name: s, cidr: 10.4.0.0/16, vms: 40 }] }]
schedule: { type: rps, rate: 10 }
test: { type: none }
`, 'yaml');
    const victim = up.emulation.vhosts[2]!;
    const killed = victim.agentPid;
    await until('some VMs', created.id, (s) => (s.vms?.ready ?? 0) >= 8);
    await victim.killAgent();
    const done = await until('the run to settle', created.id, settled);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 40, ready: 40, failed: 0, waiting: 0 });
    expect(done.lostHosts).toEqual([]);
    expect(victim.agentPid).not.toBe(killed);
    const status = await localStatus(local);
    expect(status).toMatch(new RegExp(`agent of ${victim.name} +running +${victim.agentPid} +1 +signal SIGKILL at `));
    // The others were not touched.
    for (const v of up.emulation.vhosts.filter((x) => x !== victim)) expect(status).toMatch(new RegExp(`agent of ${v.name} +running +\\d+ +0 +-`));
    const { namespaces, ovsPorts } = await vmsOnTheMachine(name);
    expect(namespaces).toHaveLength(40);
    expect(ovsPorts).toHaveLength(40);
  }, 300_000);

  it('local down leaves nothing: no namespace, link, process (the supervisor included) or file', async () => {
    const supervisor = supervisorNow();
    client.close();
    const report = await localDown(local, quiet);
    expect(report.failed).toEqual([]);
    expect(report.removed).toContain(`supervisor (pid ${supervisor.pid}, terminated)`);
    for (const s of supervisors) expect(isRunning(s)).toBe(false);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(local)).toEqual([]);
    expect(existsSync(local)).toBe(false);
  }, 180_000);
});
