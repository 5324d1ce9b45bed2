// The steps a teardown is made of, the same for a vhost (emulation-teardown.ts) and for OVN
// central (ovn-central.ts): each says what it removed (undefined: nothing was there) or throws,
// and the caller's `step` records which, so one failed step does not stop the others.
import { existsSync } from 'node:fs';
import { netnsDelete } from '@merak/native';
import { type ProcessRecord, processesInNetns, stopRecorded } from './process-record.js';
import { deleteLink, linkExists } from './underlay-network.js';

export type Step = (what: string, fn: () => Promise<string | undefined> | string | undefined) => Promise<void>;

/** Stops a recorded process (SIGTERM, then SIGKILL after 5 s). */
export async function stopProcess(step: Step, what: string, r: ProcessRecord | undefined): Promise<void> {
  if (!r) return;
  await step(what, async () => {
    const how = await stopRecorded(r, 5000);
    if (how === 'survived') throw new Error(`pid ${r.pid} survived SIGKILL`);
    return how === 'not running' ? undefined : `${what} (pid ${r.pid}, ${how})`;
  });
}

/** What runs in a namespace of ours on the underlay: `owner` names it in the report. */
export interface UnderlayNamespace {
  readonly owner: string;
  readonly netns: string;
  /** Its folder: a process whose command line names it is ours. */
  readonly dir: string;
  /** The root namespace's end of its underlay veth. */
  readonly hostVeth: string;
}

/**
 * After the recorded processes: anything of ours the record missed (the launcher died between a
 * start and its record: a process in the namespace whose command line names the folder), then
 * the namespace, then its veth.
 */
export async function removeNamespace(step: Step, n: UnderlayNamespace): Promise<void> {
  for (const p of processesInNetns(`/run/netns/${n.netns}`).filter((q) => q.cmdline.includes(n.dir))) {
    await stopProcess(step, `unrecorded process of ${n.owner} (${p.cmdline.split(' ')[0]})`, p);
  }
  await step(`namespace ${n.netns}`, async () => {
    if (!existsSync(`/run/netns/${n.netns}`)) return undefined;
    const [err] = await netnsDelete([n.netns]);
    if (err && err !== 'ENOENT') throw new Error(err);
    return `namespace ${n.netns}`;
  });
  // Deleting the namespace destroys the veth pair, asynchronously: wait for it, delete it if it stays.
  await step(`link ${n.hostVeth}`, async () => {
    const deadline = Date.now() + 5000;
    while (linkExists(n.hostVeth) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return deleteLink(n.hostVeth) ? `link ${n.hostVeth}` : undefined;
  });
}
