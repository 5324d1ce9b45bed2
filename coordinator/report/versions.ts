// The software that produced a report, as far as each part can be known honestly: the
// coordinator's own package version and Node, each agent's version and OVS version as it said at
// registration (OVS: '' from agents older than that field, or hollow ones), and the control
// plane's own version where its API tells one ('' where it does not).
import { createRequire } from 'node:module';

export interface AgentVersions {
  readonly version: string;
  readonly ovsVersion: string;
  /** How many of the scenario's vhosts run this pair. */
  readonly vhosts: number;
}

export interface SoftwareVersions {
  readonly coordinator: string;
  readonly node: string;
  /** Each distinct (agent, OVS) version pair among the scenario's vhosts; vhosts not registered now count as ''. */
  readonly agents: readonly AgentVersions[];
  readonly controlPlane: { readonly provider: string; readonly version: string };
}

let own: string | undefined;

/** This coordinator's package version ('' when its package.json cannot be read). */
export function coordinatorVersion(): string {
  if (own === undefined) {
    try {
      own = (createRequire(import.meta.url)('@merak/coordinator/package.json') as { version?: unknown }).version as string;
      if (typeof own !== 'string') own = '';
    } catch {
      own = '';
    }
  }
  return own;
}

/** The versions of a run on `hosts`, given what each agent said (undefined: not registered). */
export function softwareVersions(
  hosts: readonly string[],
  agentOf: (host: string) => { readonly version: string; readonly ovsVersion: string } | undefined,
  controlPlane: { readonly provider: string; readonly version: string },
): SoftwareVersions {
  const pairs = new Map<string, { version: string; ovsVersion: string; vhosts: number }>();
  for (const h of hosts) {
    const a = agentOf(h);
    const key = `${a?.version ?? ''}\u0000${a?.ovsVersion ?? ''}`;
    const p = pairs.get(key);
    if (p) p.vhosts++;
    else pairs.set(key, { version: a?.version ?? '', ovsVersion: a?.ovsVersion ?? '', vhosts: 1 });
  }
  // Standalone's control plane is the coordinator itself.
  const cp = controlPlane.provider === 'standalone' && !controlPlane.version ? { ...controlPlane, version: `built in (coordinator ${coordinatorVersion() || 'unknown'})` } : controlPlane;
  return { coordinator: coordinatorVersion(), node: process.version, agents: [...pairs.values()].sort((a, b) => b.vhosts - a.vhosts), controlPlane: cp };
}

/** One line: "coordinator 0.1.0 (Node v22.1.0); agents 0.1.0 with OVS 3.1.0 on 5 vhosts; control plane standalone (built in)". */
export function versionsLine(v: SoftwareVersions): string {
  const agents = v.agents.map((a) => `${a.version || 'unknown'} with OVS ${a.ovsVersion || 'unknown'} on ${a.vhosts} vhost${a.vhosts === 1 ? '' : 's'}`).join(', ');
  return `coordinator ${v.coordinator || 'unknown'} (Node ${v.node}); agents ${agents || 'none'}; control plane ${v.controlPlane.provider} ${v.controlPlane.version || '(version not reported)'}`;
}
