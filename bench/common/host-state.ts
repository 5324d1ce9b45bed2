// What the machine shows of a bench run, read from outside: network namespaces, links, processes.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** Runs a program and resolves with its stdout (a bench may pass its own, e.g. one a stop can kill). */
export type RunText = (file: string, args: readonly string[]) => Promise<string>;

const runText: RunText = async (file, args) => (await run(file, [...args])).stdout;

export async function namespacesWithPrefix(prefix: string, runner: RunText = runText): Promise<string[]> {
  return (await runner('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
}

export async function linksWithPrefix(prefix: string, runner: RunText = runText): Promise<string[]> {
  const out = await runner('ip', ['-j', 'link', 'show']);
  return (JSON.parse(out || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

/** PIDs of running processes whose command line mentions `text` (the bench's own folder). */
export function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const state = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * What a run left on the machine, read from outside: namespaces and links whose names start with
 * one of `prefixes`, processes naming `dir`, and `dir` itself. Empty = nothing left.
 */
export async function leftBehind(prefixes: readonly string[], dir: string): Promise<string[]> {
  const left: string[] = [];
  for (const p of prefixes) {
    left.push(...(await namespacesWithPrefix(p)).map((n) => `namespace ${n}`));
    left.push(...(await linksWithPrefix(p)).map((l) => `link ${l}`));
  }
  left.push(...processesMentioning(dir).map((pid) => `process ${pid}`));
  if (existsSync(dir)) left.push(`folder ${dir}`);
  return left;
}

/**
 * A run's last step: removes its folder, then says whether anything of it is left (and fails the
 * run with exit code 1 when something is).
 */
export async function removeFolderAndCheck(prefix: string, dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  const left = await leftBehind([prefix], dir);
  console.log(left.length === 0 ? `bench: nothing of ${prefix} is left (namespaces, links, processes, folder)` : `bench: LEFT BEHIND: ${left.join(', ')}`);
  if (left.length > 0) process.exitCode = 1;
}
