#!/usr/bin/env node
// The supervisor daemon of a `merak local up` emulation (one per local folder), started detached
// by `local up`: with --launch it first builds the emulation (so it is the parent of every
// process), with --heal it takes over a running one; then it restarts whatever ends (supervisor.ts).
// SIGTERM/SIGINT: it stops starting things, waits for starts under way, and exits, leaving every
// process running and recorded (`local down` sends it SIGTERM before it removes them).
// SIGUSR1: start whatever is down now (`local up` on a supervised emulation).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { errorMessage } from '@merak/common';
import { readState } from '../emulation-state.js';
import { launchLocal } from '../local-launch.js';
import { EMULATION_DIR, type LocalSettings, readLocalRecord } from '../local-record.js';
import { PROMETHEUS_FILE, metricsTargets, startMetricsRelay } from '../metrics-relay.js';
import { isRunning, recordOf } from '../process-record.js';
import { type SupervisionRecord, readSupervision, writeSupervision } from './supervision-file.js';
import { Supervisor } from './supervisor.js';

/** Where the daemon writes the lines `local up` shows the user. */
export const UP_LOG = 'up.log';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, launch: { type: 'string' }, heal: { type: 'boolean', default: false } } });
  const dir = values.dir;
  if (!dir || (values.launch === undefined) === !values.heal) {
    process.stderr.write('usage: daemon-main --dir DIR (--launch SETTINGS_JSON | --heal)\n');
    return 2;
  }
  const log = pino({ base: { component: 'supervisor' } });
  const self = recordOf(process.pid)!;
  const before = readSupervision(dir);
  // One supervisor per emulation: a second one would start every process twice.
  if (before && before.supervisor.pid !== process.pid && isRunning(before.supervisor)) {
    log.error({ pid: before.supervisor.pid }, 'another supervisor runs for this emulation');
    return 1;
  }
  const record: SupervisionRecord = { version: 1, supervisor: self, phase: values.heal ? 'healing' : 'launching', units: before?.units ?? {} };
  writeSupervision(dir, record);
  const say = (line: string): void => appendFileSync(join(dir, UP_LOG), `${line}\n`);

  // Set once the launch is done (a signal may come before).
  const running: { supervisor?: Supervisor } = {};
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no more restarts; every process keeps running');
    await running.supervisor?.stop();
    if (!running.supervisor) writeSupervision(dir, { ...record, phase: 'stopped' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGUSR1', () => running.supervisor?.healNow());

  if (values.launch !== undefined) {
    try {
      await launchLocal(dir, JSON.parse(values.launch) as LocalSettings, say);
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'launch failed');
      writeSupervision(dir, { ...record, phase: 'failed', error: errorMessage(e) });
      return 1;
    }
  }
  if (stopping) return 0;
  // --metrics-port: the relays live as long as this daemon (a new one after a heal takes them over).
  const local = readLocalRecord(dir);
  const state = readState(join(dir, EMULATION_DIR));
  if (local?.settings.metricsPort !== undefined && state) {
    try {
      const relay = await startMetricsRelay(dir, metricsTargets(local, state, local.settings.metricsPort), log);
      say(`metrics: ${relay.targets.map((t) => `${t.name} 127.0.0.1:${t.port}`).join(', ')}; Prometheus: prometheus --config.file=${join(dir, PROMETHEUS_FILE)}`);
    } catch (e) {
      log.error({ err: errorMessage(e) }, 'metrics relay not started');
      say(`metrics relay not started: ${errorMessage(e)}`);
      if (values.launch !== undefined) {
        writeSupervision(dir, { ...record, phase: 'failed', error: errorMessage(e) });
        return 1;
      }
    }
  }
  running.supervisor = new Supervisor(dir, record, log);
  running.supervisor.start();
  log.info('supervising');
  return new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`supervisor: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
