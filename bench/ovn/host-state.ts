// What the machine shows, read from outside: network namespaces, links, processes.
import { readFileSync, readdirSync } from 'node:fs';
import { run } from './stop.js';

export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
}

export async function linksWithPrefix(prefix: string): Promise<string[]> {
  const out = await run('ip', ['-j', 'link', 'show']);
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
