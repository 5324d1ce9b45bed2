// A fresh emulated vhost for each way and round: its own namespace, its own OVS (userspace
// datapath) and an empty br-int, so no way inherits another's ports, flows or kernel state.
import { errorMessage } from '@merak/common';
import { netnsCreate, netnsDelete } from '@merak/native';
import { type OvsInstance, startOvsInstance } from '@merak/lab';
import { namespacesWithPrefix, run } from '../common/host-state.js';

export interface BenchVhost {
  /** Every name this vhost's way makes starts with it (VM namespaces, ports). */
  readonly prefix: string;
  readonly netns: string;
  readonly dir: string;
  readonly ovs: OvsInstance;
  /** ovs-vsctl on this vhost's database. */
  vsctl(args: readonly string[]): Promise<string>;
}

export async function startBenchVhost(prefix: string, dir: string): Promise<BenchVhost> {
  const netns = `${prefix}-vhost`;
  await netnsCreate(netns);
  let ovs: OvsInstance | undefined;
  try {
    ovs = await startOvsInstance({ dir, netnsName: netns });
    const db = ovs.dbSocket;
    const vsctl = async (args: readonly string[]): Promise<string> => (await run('ovs-vsctl', [`--db=unix:${db}`, ...args], { maxBuffer: 256 << 20 })).stdout;
    await vsctl(['--may-exist', 'add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev']);
    return { prefix, netns, dir, ovs, vsctl };
  } catch (e) {
    await ovs?.stop().catch(() => undefined);
    await netnsDelete([netns]);
    throw e;
  }
}

/** OVS, then whatever the way left (VM namespaces by prefix), then the vhost's namespace. */
export async function stopBenchVhost(vhost: BenchVhost): Promise<void> {
  const warn = (what: string) => (e: unknown): void => console.error(`bench: ${what}: ${errorMessage(e)}`);
  await vhost.ovs.stop().catch(warn('stopping OVS'));
  await namespacesWithPrefix(vhost.prefix).then((names) => netnsDelete(names)).catch(warn('deleting namespaces'));
}
