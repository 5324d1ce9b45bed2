// Takes a local emulation down from its record alone (any process, after Ctrl-C, a crash or
// SIGKILL of the launcher): per vhost its agent, its VMs, its ovn-controller, OVS, namespace and
// veth; then OVN central; then the bridge and the folder.
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errorMessage } from '@merak/common';
import { netnsDelete } from '@merak/native';
import { type EmulationState, type VhostRecord, readState, statePath } from './emulation-state.js';
import { stopOvnCentral } from './ovn-central.js';
import { stopOvnController } from './ovn-controller.js';
import { isRunning } from './process-record.js';
import { vmsFromDbFile, vmsFromMarkedLinks, vmsFromOvsdb } from './recorded-vms.js';
import { type Step, removeNamespace, stopProcess } from './teardown-steps.js';
import { deleteLink } from './underlay-network.js';

export interface TeardownReport {
  readonly removed: readonly string[];
  readonly failed: ReadonlyArray<{ readonly what: string; readonly error: string }>;
}

/**
 * Removes everything the emulation recorded in `stateDir`, from any process: per vhost its agent,
 * its VMs' namespaces (as its OVSDB records them, read from the database file if ovsdb-server is
 * dead), its ovn-controller (`exit`, so its Chassis leaves SB), ovs-vswitchd and ovsdb-server (by
 * recorded PID and start time), its namespace and veth; then OVN central (northd, SB, NB, its
 * namespace and veth); then the bridge and the folder. Says what it removed and what it could not.
 */
export async function teardownLocalEmulation(stateDir: string): Promise<TeardownReport> {
  const dir = resolve(stateDir);
  const removed: string[] = [];
  const failed: Array<{ what: string; error: string }> = [];
  let state: EmulationState | undefined;
  try {
    state = readState(dir);
  } catch (e) {
    return { removed, failed: [{ what: statePath(dir), error: errorMessage(e) }] };
  }
  if (!state) return { removed, failed: existsSync(dir) ? [{ what: dir, error: 'no emulation is recorded here (no emulation.json); left alone' }] : [] };
  const step = async (what: string, fn: () => Promise<string | undefined> | string | undefined): Promise<void> => {
    try {
      const done = await fn();
      if (done !== undefined) removed.push(done);
    } catch (e) {
      failed.push({ what, error: errorMessage(e) });
    }
  };
  // Agent processes that serve several vhosts: each stopped once, before any vhost is taken down.
  await Promise.all((state.agentGroups ?? []).map((g) => stopProcess(step, `agent group of ${g.vhosts.length} vhosts (${g.vhosts[0]}...)`, g.process)));
  await Promise.all(state.vhosts.map((v) => teardownVhost(v, step)));
  // After the vhosts: their ovn-controllers' `exit` deletes their Chassis in SB.
  if (state.ovn) await stopOvnCentral(state.ovn, step);
  await step(`bridge ${state.bridge}`, () => (deleteLink(state.bridge) ? `bridge ${state.bridge}` : undefined));
  if (failed.length === 0) await step(`folder ${dir}`, () => (rmSync(dir, { recursive: true, force: true }), `folder ${dir}`));
  else failed.push({ what: `folder ${dir}`, error: 'kept, so that a later teardown can finish the job' });
  return { removed, failed };
}

async function teardownVhost(v: VhostRecord, step: Step): Promise<void> {
  // The agent first, so it makes no more VMs; then the VMs it recorded; then OVN's and OVS's daemons.
  await stopProcess(step, `agent of ${v.name}`, v.processes.agent);
  await step(`VM namespaces of ${v.name}`, async () => {
    const server = v.processes.ovsdbServer;
    let names: string[];
    if (server && isRunning(server)) names = await vmsFromOvsdb(v.dbSocket, v.name).catch(() => vmsFromDbFile(v.dbFile, v.name));
    else names = vmsFromDbFile(v.dbFile, v.name);
    const present = [...new Set([...names, ...vmsFromMarkedLinks(v.netns, v.name)])].filter((n) => existsSync(`/run/netns/${n}`));
    if (present.length === 0) return undefined;
    const errors = (await netnsDelete(present)).map((err, i) => (err && err !== 'ENOENT' ? `${present[i]}: ${err}` : '')).filter(Boolean);
    if (errors.length > 0) throw new Error(errors.join(', '));
    return `${present.length} VM namespace${present.length === 1 ? '' : 's'} of ${v.name}`;
  });
  const controller = v.processes.ovnController;
  if (controller) {
    // Before OVS: its `exit` removes br-ovn's tunnel ports and its Chassis through them.
    await step(`ovn-controller of ${v.name}`, async () => {
      const how = await stopOvnController(controller, join(v.dir, 'ovs'));
      if (how === 'survived') throw new Error(`pid ${controller.pid} survived SIGKILL`);
      return how === 'not running' ? undefined : `ovn-controller of ${v.name} (pid ${controller.pid}, ${how})`;
    });
  }
  await stopProcess(step, `ovs-vswitchd of ${v.name}`, v.processes.vswitchd);
  await stopProcess(step, `ovsdb-server of ${v.name}`, v.processes.ovsdbServer);
  await removeNamespace(step, { owner: v.name, netns: v.netns, dir: v.dir, hostVeth: v.hostVeth });
}
