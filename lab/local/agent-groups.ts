// Several vhosts' agents in one process (`merak-agent --group FILE`, each agent with --netns), for
// density: one Node runtime costs about 30 MiB, which an agent per vhost pays again for every vhost
// (docs/performance.md). Each vhost is still its own host: its own namespace, OVS, sockets and
// registration. The group's process runs in the root namespace and is recorded as the agent of
// every vhost in it: killing it is every member's agent crashing, and the supervisor starts the
// group again as one unit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MerakError, forEachBounded } from '@merak/common';
import { AgentClient } from '../agent-client/agent-client.js';
import { agentMainPath } from './agent-process.js';
import { type NodeProcess, startNodeProcess } from './node-process.js';
import type { VhostRecord } from './emulation-state.js';
import type { ProcessRecord } from './process-record.js';
import { type LocalVhost, type LocalVhostOptions, type VhostNode, startVhostNode } from './vhost.js';

export interface AgentGroupRecord {
  /** The JSON file the process reads ({"agents": [flags, ...]}). */
  readonly file: string;
  /** The group's log: every member's lines, each with its vhost. */
  readonly logFile: string;
  /** Its members' names, in the file's order. */
  readonly vhosts: readonly string[];
  process?: ProcessRecord;
}

/** Records the group's (new) process, as the group's and as every member's agent. */
export function recordGroupProcess(g: AgentGroupRecord, vhosts: readonly VhostRecord[], r: ProcessRecord): void {
  g.process = r;
  for (const v of vhosts) if (g.vhosts.includes(v.name)) v.processes.agent = r;
}

/** Indexes 0..n-1 in consecutive groups of at most `size`. */
export function groupIndexes(n: number, size: number): number[][] {
  const groups: number[][] = [];
  for (let i = 0; i < n; i += size) groups.push(Array.from({ length: Math.min(size, n - i) }, (_, k) => i + k));
  return groups;
}

/** The group's flags file and log, in `stateDir`. */
export function agentGroupRecord(stateDir: string, index: number, vhosts: readonly string[]): AgentGroupRecord {
  return { file: join(stateDir, `agent-group-${index}.json`), logFile: join(stateDir, `agent-group-${index}.log`), vhosts: [...vhosts] };
}

/** An agent serving a vhost from the root namespace: its flags plus --netns. */
export function groupedAgentArgs(node: Pick<VhostNode, 'name' | 'agentArgs'>): string[] {
  return [...node.agentArgs, '--netns', `/run/netns/${node.name}`];
}

export interface GroupStart {
  readonly onSpawn?: (pid: number) => void;
}

/** Starts the group's process on its file; ready once every member is ("agent group ready"). */
export function startAgentGroupProcess(g: AgentGroupRecord, o: GroupStart = {}): Promise<NodeProcess> {
  return startNodeProcess({
    what: `agent group of ${g.vhosts.length} vhosts`, script: agentMainPath(), args: ['--group', g.file], logFile: g.logFile,
    readyText: '"msg":"agent group ready"',
    // Its members start one after another, each a second or so on a loaded machine.
    readyTimeoutMs: 30_000 + 3_000 * g.vhosts.length,
    nodeFlags: (process.env.MERAK_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
  });
}

export interface GroupedStart {
  /** Each vhost's options, as startLocalVhost takes them. */
  readonly vhosts: readonly LocalVhostOptions[];
  readonly groups: readonly AgentGroupRecord[];
  readonly parallelism: number;
  /** Each vhost's node, once its OVS runs (to record its PIDs). */
  readonly onNode: (index: number, node: VhostNode) => void;
  /** A group's process, at its spawn (to record it before it is ready). */
  readonly onGroupSpawn: (group: AgentGroupRecord, pid: number) => void;
}

/**
 * Every vhost's namespace and OVS, then each group's agent process. Resolves to a LocalVhost per
 * vhost; on failure rejects, and what was made is in the records the callbacks were given.
 */
export async function startGroupedVhosts(o: GroupedStart): Promise<LocalVhost[]> {
  const nodes: VhostNode[] = [];
  await forEachBounded([...o.vhosts.keys()], o.parallelism, async (i) => {
    nodes[i] = await startVhostNode(o.vhosts[i]!);
    o.onNode(i, nodes[i]);
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out = new Map<string, LocalVhost>();
  for (const g of o.groups) {
    const members = g.vhosts.map((name) => byName.get(name)!);
    writeFileSync(g.file, JSON.stringify({ agents: members.map(groupedAgentArgs) }, null, 1));
    const group = { process: await startAgentGroupProcess(g, { onSpawn: (pid) => o.onGroupSpawn(g, pid) }) };
    const restartGroup = async (): Promise<void> => {
      await group.process.stop();
      group.process = await startAgentGroupProcess(g, { onSpawn: (pid) => o.onGroupSpawn(g, pid) });
    };
    for (const node of members) out.set(node.name, groupedVhost(node, group, restartGroup));
  }
  return nodes.map((n) => out.get(n.name)!);
}

/** A vhost whose agent process serves others too cannot be stopped alone. */
export class SharedAgentError extends MerakError {
  constructor(readonly vhost: string) {
    super('FAILED_PRECONDITION', `vhost ${vhost} shares its agent process with others: stop the whole emulation (teardownLocalEmulation)`);
  }
}

/** A member of a group as a LocalVhost: its agent is the group's process. */
function groupedVhost(node: VhostNode, group: { process: NodeProcess }, restartGroup: () => Promise<void>): LocalVhost {
  const grpcAddress = `unix:${node.grpcSocket}`;
  const vhost: LocalVhost = {
    name: node.name, dir: node.dir, dbSocket: node.ovs.dbSocket, grpcAddress, httpSocket: node.httpSocket, token: node.token,
    agentArgs: groupedAgentArgs(node),
    get ovsPids() { return node.ovs.pids; },
    client: new AgentClient(grpcAddress, { token: node.token }),
    get agent() { return group.process; },
    async restartAgent() {
      // The whole group: its members' clients reconnect by themselves, this one anew.
      vhost.client.close();
      await restartGroup();
      vhost.client = new AgentClient(grpcAddress, { token: node.token });
    },
    restartVswitchd: () => node.ovs.restartVswitchd(),
    async stop() {
      throw new SharedAgentError(node.name);
    },
  };
  return vhost;
}
