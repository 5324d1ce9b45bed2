// `merak local status`: per process of the emulation, running or not, its PID, how often the
// supervisor started it again and how it last ended (code or signal, when).
import { join } from 'node:path';
import { describeExit } from './child-exits.js';
import { type EmulationState, readState } from './emulation-state.js';
import { EMULATION_DIR, readLocalRecord } from './local-record.js';
import { northdStatus } from './ovn-central.js';
import { isRunning } from './process-record.js';
import { type LastExit, readSupervision } from './supervisor/supervision-file.js';
import { emulationUnits } from './supervisor/units.js';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}`);
}

const clock = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function lastExit(e: LastExit | undefined): string {
  return e ? `${describeExit({ code: e.code, signal: e.signal as NodeJS.Signals | null })} at ${clock(e.atUnixMs)}` : '-';
}

export async function localStatus(dir: string): Promise<string> {
  const record = readLocalRecord(dir);
  const state = readState(join(dir, EMULATION_DIR));
  const supervision = readSupervision(dir);
  if (!record && !state) return `no local emulation in ${dir}`;
  const lines = [`local emulation in ${dir}${record ? `, started ${record.startedAt}` : ''}`];
  if (record) lines.push(`  coordinator ${record.coordinator}`);
  const sup = supervision && isRunning(supervision.supervisor) ? `running (pid ${supervision.supervisor.pid}, ${supervision.phase})` : 'NOT RUNNING: nothing restarts what ends; `merak local up` starts it again';
  lines.push(`  supervisor ${sup}`);
  if (state?.ovn) lines.push(...(await ovnLines(state.ovn)));
  for (const v of state?.vhosts ?? []) lines.push(`  ${v.name}  underlay ${v.underlayIp}`);
  if (state) {
    const rows = [['PROCESS', 'STATE', 'PID', 'RESTARTS', 'LAST EXIT']];
    for (const u of emulationUnits(record, state)) {
      const r = u.current();
      const s = supervision?.units[u.key];
      const up = r !== undefined && isRunning(r);
      const stateText = up ? 'running' : s?.nextStartAtUnixMs ? `DOWN (next start ${clock(s.nextStartAtUnixMs)})` : 'DOWN';
      rows.push([u.what, stateText, r ? String(r.pid) : '-', String(s?.restarts ?? 0), `${lastExit(s?.lastExit)}${s?.lastError ? `; last start failed: ${s.lastError.split('\n')[0]}` : ''}`]);
    }
    lines.push(...table(rows));
  }
  return lines.join('\n');
}

async function ovnLines(c: NonNullable<EmulationState['ovn']>): Promise<string[]> {
  const northd = c.processes.northd && isRunning(c.processes.northd) ? (await northdStatus(c).catch(() => 'no answer')).replace(/^Status: /, '') : 'down';
  return [
    `  OVN central ${c.netns}  underlay ${c.underlayIp}; northd ${northd}`,
    `    NB ${c.nb.unix} | ${c.nb.tcp}   SB ${c.sb.unix} | ${c.sb.tcp}`,
  ];
}
