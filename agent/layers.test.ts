// The layer order written at the top of agent/index.ts holds: every relative import of a source
// file (tests and testdata aside) goes to its own folder, a folder of a lower layer, or a peer the
// order names with an arrow ("registration -> server").
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(fileURLToPath(import.meta.url));
const ROOT_LAYER = '(root)';

/** The layers from index.ts's comment, top first: folder -> rank, and the allowed peer imports. */
function layerOrder(): { rank: Map<string, number>; peers: Set<string> } {
  const text = readFileSync(join(root, 'index.ts'), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.includes('top to bottom'));
  const rank = new Map<string, number>();
  const peers = new Set<string>();
  let layer = 0;
  for (const line of lines.slice(start + 1)) {
    const m = /^\/\/ {3}(.*)$/.exec(line);
    if (!m) {
      if (rank.size > 0) break;
      continue;
    }
    const body = m[1]!.replace(/\(.*\)/, '').trim();
    if (body.startsWith('@merak/')) break;
    if (body.includes('.ts')) rank.set(ROOT_LAYER, layer);
    else {
      const arrow = /^(\S+) -> (\S+)$/.exec(body);
      if (arrow) peers.add(`${arrow[1]} -> ${arrow[2]}`);
      for (const name of body.split(/,| -> /).map((s) => s.trim()).filter((s) => s !== '')) rank.set(name, layer);
    }
    layer++;
  }
  return { rank, peers };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'dist' || name === 'node_modules' || name === 'testdata' || name === 'test-support') continue;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const folderOf = (path: string): string => {
  const parts = relative(root, path).split('/');
  return parts.length === 1 ? ROOT_LAYER : parts[0]!;
};

describe('agent layers', () => {
  it('every folder has a layer, and every import goes down the order (or to a named peer)', () => {
    const { rank, peers } = layerOrder();
    expect(rank.size).toBeGreaterThan(10);
    const wrong: string[] = [];
    for (const file of sourceFiles(root)) {
      const from = folderOf(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'";]*?from\s+'(\.[^']+)'/gs)) {
        const target = resolve(dirname(file), m[1]!);
        const to = folderOf(target);
        if (relative(root, target).startsWith('..')) wrong.push(`${relative(root, file)} -> ${m[1]} (outside the package)`);
        else if (!rank.has(from) || !rank.has(to)) wrong.push(`${relative(root, file)} -> ${m[1]} (folder without a layer)`);
        else if (from !== to && rank.get(to)! <= rank.get(from)! && !peers.has(`${from} -> ${to}`)) wrong.push(`${relative(root, file)} -> ${m[1]}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
