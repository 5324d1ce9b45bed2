// A failed `local up --ovn` rolls back: nothing of the emulation is left (namespaces, links,
// processes, files), and what it found in its way is left alone.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalEmulation } from '../../lab/index.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const dir = mkdtempSync(join(tmpdir(), 'merak-ovnrb-'));
const prefixes: string[] = [];
const fresh = (): { prefix: string; stateDir: string } => {
  const prefix = uniquePrefix('r');
  prefixes.push(prefix);
  return { prefix, stateDir: join(dir, prefix) };
};

afterAll(async () => {
  for (const p of prefixes) await sweepEmulation(join(dir, p), p);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

const nothingLeft = (prefix: string, stateDir: string): void => {
  expect(namespacesWithPrefix(prefix)).toEqual([]);
  expect(linksWithPrefix(prefix)).toEqual([]);
  expect(processesMentioning(stateDir)).toEqual([]);
  expect(existsSync(stateDir)).toBe(false);
};

describe('local emulation with OVN, failed start', () => {
  it('rolls back everything when an ovn-controller cannot start (OVN central and the vhosts included)', async () => {
    const { prefix, stateDir } = fresh();
    const up = startLocalEmulation({ prefix, hosts: 2, stateDir, ovn: true, ovnControllerArgs: ['--no-such-option'] });
    await expect(up).rejects.toThrow(/ovn-controller of .* did not start/);
    nothingLeft(prefix, stateDir);
  }, 120_000);

  it('refuses to start when the central namespace name is taken, and leaves that namespace alone', async () => {
    const { prefix, stateDir } = fresh();
    await netnsCreate(`${prefix}-ovn`, { sysctls: [] });
    try {
      await expect(startLocalEmulation({ prefix, hosts: 2, stateDir, ovn: true })).rejects.toThrow(`namespace ${prefix}-ovn already exists`);
      expect(namespacesWithPrefix(prefix)).toEqual([`${prefix}-ovn`]);
      expect(linksWithPrefix(prefix)).toEqual([]);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      await netnsDelete([`${prefix}-ovn`]);
    }
  }, 60_000);
});
