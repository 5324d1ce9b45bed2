// The architecture, checked: which package may import which (code, package.json, tsconfig), no
// source file over 400 lines, and inside agent, coordinator and lab no import from a folder above
// the importing one. Imports are read with TypeScript's own pre-processor (static, re-exports and
// dynamic `import('…')`), from every non-test source file.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Each package and the packages of ours it may import (lab: all of them). */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  proto: [],
  native: [],
  agent: ['proto', 'native', 'common'],
  coordinator: ['proto', 'common'],
  lab: ['proto', 'native', 'common', 'agent', 'coordinator'],
};
const PACKAGES = Object.keys(ALLOWED);

/**
 * The folders of each package, top layer first: a file may import its own folder or a folder on a
 * later row, never one on its own row or above. `.` is the package's top-level files (index.ts,
 * main.ts, the wiring), above everything. Kept here, not in runtime code; the packages' index.ts
 * comments and docs/architecture.md say the same in words.
 */
const LAYERS: Record<string, ReadonlyArray<readonly string[]>> = {
  agent: [
    ['.'],
    ['registration'],
    ['server'],
    ['metrics', 'probe', 'supervisor', 'faults'],
    ['goalstate'],
    ['overlay'],
    ['vm'],
    ['ovn', 'vswitch', 'netns'],
    ['openflow', 'netlink'],
  ],
  coordinator: [
    ['.'],
    ['server'],
    ['engine'],
    ['providers', 'faults'],
    ['tunnel-sets', 'alcor', 'ovn'],
    ['fanout', 'registry'],
    ['plan', 'report'],
    ['scenario', 'store', 'metrics'],
  ],
  lab: [
    ['.'],
    ['cli'],
    ['local'],
    ['agent-client', 'coordinator-client'],
  ],
};

const MAX_LINES = 400;
const SKIP_DIRS = new Set(['dist', 'node_modules', 'build', 'testdata', 'test-support']);

/** Non-test TypeScript sources below `dir` (generated code included: it imports too). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP_DIRS.has(name)) out.push(...sources(path));
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

const rel = (path: string): string => relative(REPO, path).split(sep).join('/');

function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** The package a path lies in, or undefined (outside every package). */
function packageOf(path: string): string | undefined {
  const first = rel(path).split('/')[0]!;
  return PACKAGES.includes(first) ? first : undefined;
}

/** The top folder of `path` inside package `pkg` ('.' for the package's own top-level files). */
function folderOf(pkg: string, path: string): string {
  const parts = relative(join(REPO, pkg), path).split(sep);
  return parts.length === 1 ? '.' : parts[0]!;
}

function rankOf(pkg: string, folder: string): number | undefined {
  const i = LAYERS[pkg]!.findIndex((row) => row.includes(folder));
  return i < 0 ? undefined : i;
}

/** The packages of ours a file imports, by name or by a relative path that leaves its package. */
function packagesImported(file: string, pkg: string): Array<{ spec: string; target: string }> {
  const out: Array<{ spec: string; target: string }> = [];
  for (const spec of specifiers(file)) {
    const named = /^@merak\/([^/]+)/.exec(spec);
    if (named) out.push({ spec, target: named[1]! });
    else if (spec.startsWith('.')) {
      const target = packageOf(resolve(dirname(file), spec)) ?? 'outside every package';
      if (target !== pkg) out.push({ spec, target });
    }
  }
  return out;
}

describe('architecture', () => {
  describe('packages import only what they may', () => {
    for (const pkg of PACKAGES) {
      it(`${pkg}: code imports only ${ALLOWED[pkg]!.join(', ') || 'no package of ours'}, and by name`, () => {
        const wrong: string[] = [];
        for (const file of sources(join(REPO, pkg))) {
          for (const { spec, target } of packagesImported(file, pkg)) {
            if (spec.startsWith('.')) wrong.push(`${rel(file)} imports '${spec}': a relative path into ${target} (import a package by its name)`);
            else if (!ALLOWED[pkg]!.includes(target)) wrong.push(`${rel(file)} imports '${spec}': ${pkg} may not depend on @merak/${target}`);
          }
        }
        expect(wrong).toEqual([]);
      });

      it(`${pkg}: package.json and tsconfig.json name only allowed packages, and every one the code uses`, () => {
        const manifest = JSON.parse(readFileSync(join(REPO, pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
        const declared = new Set<string>();
        for (const key of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
          for (const name of Object.keys((manifest[key] ?? {}) as Record<string, string>)) {
            if (name.startsWith('@merak/')) declared.add(name.slice('@merak/'.length));
          }
        }
        const tsconfig = ts.readConfigFile(join(REPO, pkg, 'tsconfig.json'), ts.sys.readFile).config as { references?: Array<{ path: string }> };
        const referenced = (tsconfig.references ?? []).map((r) => packageOf(resolve(REPO, pkg, r.path)) ?? r.path);
        const used = new Set(sources(join(REPO, pkg)).flatMap((f) => packagesImported(f, pkg).map((i) => i.target)));
        const allowed = new Set(ALLOWED[pkg]);
        const wrong = [
          ...[...declared].filter((d) => !allowed.has(d)).map((d) => `package.json depends on @merak/${d}`),
          ...[...used].filter((u) => allowed.has(u) && !declared.has(u)).map((u) => `the code imports @merak/${u} but package.json does not list it`),
          ...referenced.filter((r) => !allowed.has(r)).map((r) => `tsconfig.json references ${r}`),
          ...[...used].filter((u) => allowed.has(u) && !referenced.includes(u)).map((u) => `the code imports @merak/${u} but tsconfig.json does not reference it`),
        ];
        expect(wrong).toEqual([]);
      });
    }
  });

  it(`no source file has more than ${MAX_LINES} lines (tests, testdata and proto/gen aside)`, () => {
    const long: string[] = [];
    for (const dir of [...PACKAGES, 'bench']) {
      for (const file of sources(join(REPO, dir))) {
        if (rel(file).startsWith('proto/gen/')) continue;
        const lines = readFileSync(file, 'utf8').split('\n').length - 1;
        if (lines > MAX_LINES) long.push(`${rel(file)}: ${lines} lines`);
      }
    }
    expect(long).toEqual([]);
  });

  describe('inside a package, imports go down the layers', () => {
    for (const pkg of Object.keys(LAYERS)) {
      it(`${pkg}: ${LAYERS[pkg]!.map((row) => row.join(', ')).join(' → ')}`, () => {
        const wrong: string[] = [];
        for (const file of sources(join(REPO, pkg))) {
          const from = folderOf(pkg, file);
          const fromRank = rankOf(pkg, from);
          if (fromRank === undefined) {
            wrong.push(`${rel(file)}: its folder ${from}/ has no layer (add it to LAYERS.${pkg} in this test)`);
            continue;
          }
          for (const spec of specifiers(file)) {
            if (!spec.startsWith('.')) continue;
            const target = resolve(dirname(file), spec);
            if (packageOf(target) !== pkg) continue; // another package: checked above
            const to = folderOf(pkg, target);
            if (to === from) continue;
            const toRank = rankOf(pkg, to);
            if (toRank === undefined) wrong.push(`${rel(file)} imports '${spec}': folder ${to}/ has no layer`);
            else if (toRank <= fromRank) {
              wrong.push(`${rel(file)} imports '${spec}': ${from}/ may not import ${to}/, which is ${toRank === fromRank ? 'on its own layer' : 'above it'}`);
            }
          }
        }
        expect(wrong).toEqual([]);
      });
    }
  });

  it('the benches load from dist what their type imports name (the two paths cannot drift apart)', () => {
    // A bench reaches a package's internals through its build output (`dist('lab/dist/cli/local.js')`)
    // and types it with `import type … from '../../lab/cli/local.js'`: both must name the same file.
    const wrong: string[] = [];
    for (const file of sources(join(REPO, 'bench'))) {
      const text = readFileSync(file, 'utf8');
      const typed = new Set(specifiers(file).filter((s) => s.startsWith('.')).map((s) => rel(resolve(dirname(file), s))));
      for (const m of text.matchAll(/dist\('([^']+)'\)/g)) {
        const built = m[1]!;
        const source = built.replace(/^([^/]+)\/dist\//, '$1/');
        if (!typed.has(source)) wrong.push(`${rel(file)} loads ${built} but no type import names ${source}`);
        if (!existsSync(join(REPO, source.replace(/\.js$/, '.ts')))) wrong.push(`${rel(file)} loads ${built}, whose source ${source.replace(/\.js$/, '.ts')} does not exist`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every built file a test, bench, script, image or manifest names has its source (nothing points at a moved file)', () => {
    // Child processes and launchers load build output by path (`lab/dist/index.js`,
    // `/opt/merak/agent/dist/main.js`); a path left behind by a move fails only when that one
    // test or image runs, so every such path is checked against the sources here.
    const built = /\b(proto|native|common|agent|coordinator|lab|test|bench)\/dist\/([\w./-]+?)\.js\b/g;
    const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) ? [] : files(path);
      return /\.(ts|sh|json|yaml|yml)$|^Dockerfile$|^run$/.test(name) ? [path] : [];
    });
    const wrong: string[] = [];
    for (const file of ['common', 'agent', 'coordinator', 'lab', 'test', 'bench', 'scripts', 'images', 'deploy', '.ci'].flatMap((d) => files(join(REPO, d))).concat(join(REPO, 'package.json'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(built)) {
        const source = `${m[1]}/${m[2]}.ts`;
        if (!existsSync(join(REPO, source))) wrong.push(`${rel(file)} names ${m[0]}, but ${source} does not exist`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
