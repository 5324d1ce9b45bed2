import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { netnsDelete } from '@merak/native';
import { errorMessage } from '@merak/common';
import { readState, teardownLocalEmulation } from '@merak/lab';
import type { Modules } from './coordinator-modules.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning, run } from '../common/host-state.js';

/**
 * `local down`, then whatever still carries the prefix: the emulation by its record, namespaces,
 * links, processes that name the folder (started by this run: stopped by PID), the folder.
 * Returns what had to be removed after `local down`, which should be nothing.
 */
export async function teardown(m: Modules, dir: string, prefix: string, log: (line: string) => void): Promise<string[]> {
  const left: string[] = [];
  await m.local.localDown(dir, log).catch((e: unknown) => log(`local down failed: ${errorMessage(e)}`));
  const stateDir = join(dir, 'emulation');
  if (existsSync(stateDir) && readState(stateDir)) {
    left.push(`the emulation record in ${stateDir}`);
    await teardownLocalEmulation(stateDir);
  }
  const namespaces = await namespacesWithPrefix(prefix);
  if (namespaces.length > 0) {
    left.push(`${namespaces.length} namespaces`);
    await netnsDelete(namespaces);
  }
  for (const link of await linksWithPrefix(prefix)) {
    left.push(`link ${link}`);
    await run('ip', ['link', 'del', link]).catch(() => undefined); // gone with its peer meanwhile
  }
  for (const pid of processesMentioning(dir)) {
    left.push(`process ${pid}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  if (existsSync(dir)) {
    left.push(`folder ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const l of left) log(`had to remove after local down: ${l}`);
  return left;
}
