// Memory as the machine sees it: MemAvailable (what is left for anything else, all included:
// processes, kernel objects of namespaces, links and sockets, page tables) and, per process, its
// proportional set size (PSS: shared pages, such as one binary's code mapped by 200 processes, are
// split between them), by kind of process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readState } from '@merak/lab';
import { processMemory } from '../common/process-memory.js';

const MIB = 1024;

/** MemAvailable, in MiB. */
export function memAvailableMiB(): number {
  const kib = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  if (kib === undefined) throw new Error('/proc/meminfo has no MemAvailable');
  return Number(kib) / MIB;
}

export interface KindMemory {
  readonly processes: number;
  /** Per process (the kind's total divided by its processes), MiB. */
  readonly pssMiB: number;
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly totalPssMiB: number;
  /** The kind's PSS divided by the vhosts. */
  readonly perVhostPssMiB: number;
}

export type Kind = 'agent' | 'ovsdbServer' | 'vswitchd' | 'coordinator' | 'supervisor';

/** Every process of a `local up` folder, by kind, as its records name them. */
export function emulationPids(dir: string, coordinatorPid: number): Map<Kind, number[]> {
  const state = readState(join(dir, 'emulation'));
  // supervision.json: the supervisor's own record (lab/local/supervisor).
  const supervisorPid = JSON.parse(readFileSync(join(dir, 'supervision.json'), 'utf8')) as { supervisor?: { pid?: number } };
  if (!state) throw new Error(`no emulation record in ${dir}`);
  const pids = new Map<Kind, number[]>([['agent', []], ['ovsdbServer', []], ['vswitchd', []], ['coordinator', [coordinatorPid]], ['supervisor', supervisorPid.supervisor?.pid ? [supervisorPid.supervisor.pid] : []]]);
  for (const v of state.vhosts) {
    for (const kind of ['agent', 'ovsdbServer', 'vswitchd'] as const) {
      const r = v.processes[kind];
      // A group's agent process is every member's: counted once.
      if (r && !pids.get(kind)!.includes(r.pid)) pids.get(kind)!.push(r.pid);
    }
  }
  return pids;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Sums each kind's processes; a process that is gone is an error (the reading would flatter). */
export function memoryByKind(pids: Map<Kind, number[]>, vhosts: number): Record<Kind, KindMemory> {
  const out = {} as Record<Kind, KindMemory>;
  for (const [kind, list] of pids) {
    let pss = 0;
    let rss = 0;
    let anon = 0;
    for (const pid of list) {
      const m = processMemory(pid);
      if (!m) throw new Error(`${kind} process ${pid} is gone: the reading would leave it out`);
      pss += m.pssMiB;
      rss += m.rssMiB;
      anon += m.anonMiB;
    }
    const n = Math.max(list.length, 1);
    out[kind] = { processes: list.length, pssMiB: round1(pss / n), rssMiB: round1(rss / n), anonMiB: round1(anon / n), totalPssMiB: round1(pss), perVhostPssMiB: round1(pss / vhosts) };
  }
  return out;
}
