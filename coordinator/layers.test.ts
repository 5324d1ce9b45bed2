// The folder order written at the top of index.ts holds: no non-test file imports a folder on a
// line above its own (relative imports resolved to their folder).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(fileURLToPath(import.meta.url));

/** folder -> its line in index.ts's layer list (0 = top). */
function layers(): Map<string, number> {
  const out = new Map<string, number>();
  const lines = readFileSync(join(root, 'index.ts'), 'utf8').split('\n').filter((l) => /^\/\/ [a-z -]+: /.test(l));
  lines.forEach((l, i) => {
    for (const folder of l.slice(3, l.indexOf(':')).split(' ')) out.set(folder, i);
  });
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'dist' || e.name === 'node_modules') return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('coordinator layers', () => {
  it('has every folder in the list, and no file imports a folder above its own', () => {
    const order = layers();
    expect([...order.keys()]).toEqual(expect.arrayContaining(['server', 'engine', 'providers', 'tunnel-sets', 'plan', 'scenario', 'report', 'store']));
    const folderOf = (file: string): string => relative(root, file).split('/')[0]!;
    const upward: string[] = [];
    for (const file of sources(root)) {
      const from = folderOf(file);
      if (from.endsWith('.ts')) continue; // main.ts, index.ts: the top
      expect(order.has(from), `${from} is not in index.ts's layer list`).toBe(true);
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const to = folderOf(resolve(dirname(file), m[1]!));
        if (to !== from && (order.get(to) ?? -1) < order.get(from)!) upward.push(`${relative(root, file)} -> ${m[1]}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
