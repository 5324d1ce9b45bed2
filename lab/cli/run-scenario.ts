// Submits a scenario, shows its progress until it settles, prints its report and writes it as
// report.json and report.html into the output folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { MerakError, errorMessage } from '@merak/common';
import type { CoordinatorClient } from '../coordinator-client/coordinator-client.js';
import { ProgressBar } from './progress.js';

export interface RunOutcome {
  readonly scenario: coordinatorV1.Scenario;
  readonly reportDir: string | undefined;
  readonly ok: boolean;
}

const FINAL = new Set([coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED]);

export function phaseName(p: coordinatorV1.ScenarioPhase): string {
  return coordinatorV1.scenarioPhaseToJSON(p).replace('SCENARIO_PHASE_', '').toLowerCase();
}

export interface RunOptions {
  readonly out: string;
  readonly format?: '' | 'yaml' | 'json';
  readonly log?: (line: string) => void;
  /** Show the progress bar (default true). */
  readonly progress?: boolean;
  /** Stops watching (as Ctrl-C does): the scenario goes on in the coordinator. */
  readonly signal?: AbortSignal;
  /** A scenario of this name left by an earlier run (a demo run again) is deleted first. */
  readonly replaces?: string;
}

/** A scenario named `name` could not be deleted to make room for a new run of it. */
export class ScenarioNotReplacedError extends MerakError {
  constructor(readonly scenarioName: string, readonly id: string, readonly phase: string, readonly reason: string) {
    super('CONFLICT', `scenario '${scenarioName}' (${id}) from an earlier run could not be deleted (${phase}${reason ? `: ${reason}` : ''}); 'merak local up --fresh' starts the emulation clean`);
  }
}

/** Deletes the scenarios named `name` that still exist, waiting for each to be gone. */
async function deleteNamed(client: CoordinatorClient, name: string, log: (line: string) => void): Promise<void> {
  const { scenarios } = await client.listScenarios();
  for (const s of scenarios) {
    if (s.name !== name || s.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED) continue;
    log(`deleting scenario ${name} (${s.id}) of an earlier run first`);
    await client.deleteScenario(s.id);
    await client.watch(s.id, () => undefined);
    const after = await client.getScenario(s.id);
    if (after.phase !== coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED) throw new ScenarioNotReplacedError(name, s.id, phaseName(after.phase), after.error);
  }
}

export async function runScenario(client: CoordinatorClient, text: string, opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (opts.replaces !== undefined) await deleteNamed(client, opts.replaces, log);
  const created = await client.createScenario(text, opts.format ?? '');
  log(`scenario ${created.name} (${created.id}): ${created.vms?.requested ?? 0} VMs on ${created.hosts} hosts, provider ${created.provider}`);
  const bar = new ProgressBar();
  let last = created;
  const abort = new AbortController();
  const interrupt = (): void => abort.abort();
  process.once('SIGINT', interrupt);
  if (opts.signal?.aborted) abort.abort();
  opts.signal?.addEventListener('abort', interrupt, { once: true });
  try {
    await client.watch(created.id, (e) => {
      if (!e.scenario) return;
      last = e.scenario;
      if (opts.progress !== false) bar.update(e.scenario, e.message);
    }, abort.signal);
  } finally {
    process.off('SIGINT', interrupt);
    opts.signal?.removeEventListener('abort', interrupt);
    bar.done();
  }
  if (abort.signal.aborted) {
    log(`interrupted: the scenario goes on in the coordinator (${created.id}); see it with 'merak show ${created.id}', delete it with 'merak delete ${created.id}'`);
    return { scenario: last, reportDir: undefined, ok: false };
  }
  last = await client.getScenario(created.id);
  if (!FINAL.has(last.phase)) throw new Error(`the watch ended with the scenario ${phaseName(last.phase)}`);
  let reportDir: string | undefined;
  try {
    const report = await client.getReport(created.id);
    log('');
    log(report.text);
    reportDir = writeReport(opts.out, report);
    log('');
    log(`report: ${join(reportDir, 'report.json')}, ${join(reportDir, 'report.html')}`);
  } catch (e) {
    log(`no report: ${errorMessage(e)}`);
  }
  const ok = last.phase === coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY;
  log(ok ? `scenario ${last.name} is ready` : `scenario ${last.name} ${phaseName(last.phase)}${last.error ? `: ${last.error}` : ''}`);
  return { scenario: last, reportDir, ok };
}

export function writeReport(out: string, report: coordinatorV1.ReportResponse): string {
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${report.json}\n`);
  writeFileSync(join(dir, 'report.html'), report.html);
  return dir;
}
