// One create/delete cycle: a scenario of --vms VMs in Alcor mode, created and awaited, checked,
// deleted and awaited, checked again.
import { coordinatorV1 } from '@merak/proto';
import { errorMessage } from '@merak/common';
import { type Baseline, type CheckResult, checkHosts } from './checks.js';
import { type Soak, sleep, throwIfStopped } from './context.js';

const Phase = coordinatorV1.ScenarioPhase;
const FINAL = new Set([Phase.SCENARIO_PHASE_READY, Phase.SCENARIO_PHASE_FAILED, Phase.SCENARIO_PHASE_DELETED]);
const phaseName = (p: coordinatorV1.ScenarioPhase): string => coordinatorV1.scenarioPhaseToJSON(p).replace('SCENARIO_PHASE_', '').toLowerCase();

export interface CycleResult {
  /** Why the cycle did not do what it should ('' = it did). */
  readonly failure: string;
  readonly afterCreate: CheckResult | undefined;
  readonly afterDelete: CheckResult | undefined;
}

function scenarioText(s: Soak, name: string): string {
  const u = s.alcor.urls;
  return [
    `name: ${name}`,
    `seed: ${s.o.seed}`,
    'provider: alcor',
    'alcor:',
    `  endpoints: { vpc: ${u.vpc}, subnet: ${u.subnet}, route: ${u.route}, port: ${u.port}, node: ${u.node}, sg: ${u.sg} }`,
    `  project_id: proj-${name}`,
    `hosts: { count: ${s.o.vhosts} }`,
    `vpcs: [{ name: vpc1, cidr: 10.1.0.0/16, subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: ${s.o.vms} }] }]`,
    'test: none',
    '',
  ].join('\n');
}

/** Polls the scenario until `done` (a coordinator that restarts meanwhile only delays it). */
async function until(s: Soak, id: string, done: (sc: coordinatorV1.Scenario) => boolean, what: string): Promise<coordinatorV1.Scenario> {
  const deadline = Date.now() + s.o.cycleTimeoutMs;
  let last = '';
  for (;;) {
    throwIfStopped(s);
    try {
      const sc = await s.client.getScenario(id);
      if (done(sc)) return sc;
      last = `${phaseName(sc.phase)}, ${sc.vms?.ready ?? 0}/${sc.vms?.requested ?? 0} ready`;
    } catch (e) {
      last = errorMessage(e);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${s.o.cycleTimeoutMs} ms (last: ${last})`);
    await sleep(500);
  }
}

export async function runCycle(s: Soak, n: number, baseline: Baseline): Promise<CycleResult> {
  const name = `${s.prefix}-c${n}`;
  let afterCreate: CheckResult | undefined;
  let afterDelete: CheckResult | undefined;
  const failures: string[] = [];
  let id = '';
  try {
    throwIfStopped(s);
    id = (await s.client.createScenario(scenarioText(s, name), 'yaml')).id;
    const made = await until(s, id, (sc) => FINAL.has(sc.phase), `create ${name}`);
    if (made.phase !== Phase.SCENARIO_PHASE_READY || made.vms?.ready !== s.o.vms) {
      failures.push(`create ${name}: ${phaseName(made.phase)}, ${made.vms?.ready ?? 0}/${s.o.vms} ready${made.error ? `: ${made.error}` : ''}`);
    }
    afterCreate = await checkHosts(s, baseline);
  } catch (e) {
    failures.push(errorMessage(e));
  }
  // Deleted also after a failed create: the next cycle starts from nothing (on a stop, local down does it).
  try {
    throwIfStopped(s);
    if (id) {
      const asked = Date.now();
      await s.client.deleteScenario(id);
      // A delete that fails ends in 'failed', later than it was asked (a failed create is 'failed' already).
      const ended = (sc: coordinatorV1.Scenario): boolean => sc.phase === Phase.SCENARIO_PHASE_DELETED || (sc.phase === Phase.SCENARIO_PHASE_FAILED && Number(sc.updatedAtUnixMs) >= asked);
      const gone = await until(s, id, ended, `delete ${name}`);
      if (gone.phase !== Phase.SCENARIO_PHASE_DELETED) failures.push(`delete ${name}: ${phaseName(gone.phase)}${gone.error ? `: ${gone.error}` : ''}`);
    }
    afterDelete = await checkHosts(s, baseline);
  } catch (e) {
    failures.push(errorMessage(e));
  }
  return { failure: failures.join('; '), afterCreate, afterDelete };
}
