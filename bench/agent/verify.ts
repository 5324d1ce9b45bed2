// Checks from outside, with the system's own tools, that a way really built (or removed) every
// VM: nothing the way itself reports is trusted. A missing VM fails the run.
import { readdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mapBounded } from '@merak/common';
import type { BenchVhost } from './vhost.js';
import type { BenchVm } from './vms.js';

const exec = promisify(execFile);

export class VerificationError extends Error {
  constructor(readonly way: string, readonly problems: readonly string[]) {
    super(`${way}: ${problems.length} problem(s) seen from outside, first: ${problems.slice(0, 3).join('; ')}`);
  }
}

/** Interface name → ofport (-1 when vswitchd gave it none), read with ovs-vsctl. */
async function ofports(vhost: BenchVhost): Promise<Map<string, number>> {
  const out = JSON.parse(await vhost.vsctl(['--format=json', '--columns=name,ofport', 'list', 'Interface'])) as { data: Array<[string, unknown]> };
  return new Map(out.data.map(([name, ofport]) => [name, typeof ofport === 'number' ? ofport : -1]));
}

/** Every VM: its namespace exists, its address is set inside it, its OVS port has an ofport. */
export async function verifyCreated(way: string, vhost: BenchVhost, vms: readonly BenchVm[], ports: readonly string[]): Promise<void> {
  const problems: string[] = [];
  const namespaces = new Set(readdirSync('/run/netns'));
  const ofport = await ofports(vhost);
  vms.forEach((v, i) => {
    if (!namespaces.has(v.name)) problems.push(`no namespace ${v.name}`);
    const p = ofport.get(ports[i]!);
    if (p === undefined) problems.push(`no OVS interface ${ports[i]} for ${v.name}`);
    else if (p <= 0) problems.push(`OVS interface ${ports[i]} of ${v.name} has no ofport`);
  });
  const addressed = await mapBounded(vms, 16, async (v) => {
    if (!namespaces.has(v.name)) return true;
    const { stdout } = await exec('ip', ['-n', v.name, '-4', '-o', 'addr', 'show']);
    return stdout.includes(` inet ${v.ip}/`);
  });
  addressed.forEach((ok, i) => ok || problems.push(`${vms[i]!.ip} is not set in ${vms[i]!.name}`));
  if (problems.length > 0) throw new VerificationError(way, problems);
}

/** After the deletes: no VM namespace and no VM port is left. */
export async function verifyDeleted(way: string, vhost: BenchVhost, vms: readonly BenchVm[], ports: readonly string[]): Promise<void> {
  const namespaces = new Set(readdirSync('/run/netns'));
  const ofport = await ofports(vhost);
  const problems = [
    ...vms.filter((v) => namespaces.has(v.name)).map((v) => `namespace ${v.name} is left`),
    ...ports.filter((p) => ofport.has(p)).map((p) => `OVS interface ${p} is left`),
  ];
  if (problems.length > 0) throw new VerificationError(way, problems);
}
