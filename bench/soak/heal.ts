// After a process fault: wait for the emulation to heal by itself (its supervisor restarts what
// ended), read as `local status` does: every recorded process running, and every agent connected
// to the coordinator. Not healed within the bound: `local up` on the existing emulation (the heal
// path, which starts only what is down), then the same wait once more.
import { join } from 'node:path';
import { errorMessage } from '@merak/common';
import { type Soak, SoakError, sleep, throwIfStopped } from './context.js';

/** What is not healthy yet (empty = healed). */
async function unhealthy(s: Soak): Promise<string[]> {
  const record = s.m.record.readLocalRecord(s.dir);
  const state = s.m.state.readState(join(s.dir, s.m.record.EMULATION_DIR));
  if (!record || !state) return [`no emulation recorded in ${s.dir}`];
  const down = s.m.units.emulationUnits(record, state).filter((u) => {
    const r = u.current();
    return !r || !s.m.processes.isRunning(r);
  }).map((u) => `${u.what} down`);
  if (down.length > 0) return down;
  try {
    const { agents } = await s.client.listAgents();
    const connected = new Set(agents.filter((a) => a.connected).map((a) => a.info?.name));
    return state.vhosts.filter((v) => !connected.has(v.name)).map((v) => `agent of ${v.name} not connected`);
  } catch (e) {
    return [`coordinator not answering: ${errorMessage(e)}`];
  }
}

async function waitHealthy(s: Soak, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfStopped(s);
    const left = await unhealthy(s);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(250);
  }
}

/** 'self' when it healed by itself, 'up' when `local up` had to heal it; throws if even that failed. */
export async function awaitHealed(s: Soak): Promise<'self' | 'up'> {
  const left = await waitHealthy(s, s.o.healTimeoutMs);
  if (left.length === 0) return 'self';
  throwIfStopped(s);
  s.log(`not healed after ${s.o.healTimeoutMs} ms (${left.join(', ')}): running local up on the existing emulation`);
  const up = await s.m.local.localUp({ dir: s.dir, prefix: s.prefix, hosts: s.o.vhosts, hostAccess: true, log: (l) => s.log(`  local up: ${l.trim()}`) });
  s.log(`local up restarted: ${up.restarted.join(', ') || 'nothing'}`);
  const still = await waitHealthy(s, s.o.healTimeoutMs);
  if (still.length > 0) throw new SoakError(`the emulation did not heal, even after local up: ${still.join(', ')}`);
  return 'up';
}
