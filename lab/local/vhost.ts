// One emulated host on this machine, built like a Kubernetes pod: its own network namespace, its
// own ovsdb-server + ovs-vswitchd (userspace datapath), and its own agent process.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSysError, netnsCreate, netnsDelete } from '@merak/native';
import { AgentClient } from '../agent-client/agent-client.js';
import { type AgentProcess, startAgentProcess } from './agent-process.js';
import { type OvsInstance, startOvsInstance } from './ovs-instance.js';
import { vmsFromOvsdb } from './recorded-vms.js';

export interface LocalVhostOptions {
  /** The vhost's name; also its network namespace's name. */
  readonly name: string;
  /** A private folder for OVS's database, sockets and logs, and the agent's sockets and log. */
  readonly dir: string;
  /** Extra agent flags. */
  readonly agentArgs?: readonly string[];
  /** The agent's bearer token, in a file; default: a fresh one written into `dir`. */
  readonly tokenFile?: string;
  /** sysctls set inside the namespace as it is created (before anything runs in it). */
  readonly sysctls?: Array<[string, string]>;
  /** Runs once the namespace exists, before OVS and the agent start (e.g. to give it an uplink). */
  readonly prepare?: (netns: string) => Promise<void>;
}

export interface LocalVhost {
  readonly name: string;
  readonly dir: string;
  readonly dbSocket: string;
  readonly grpcAddress: string;
  readonly httpSocket: string;
  readonly token: string;
  /** The agent's flags, as given to it (a supervisor restarts it with the same). */
  readonly agentArgs: readonly string[];
  /** ovsdb-server's and ovs-vswitchd's PIDs (vswitchd's changes with restartVswitchd). */
  readonly ovsPids: { readonly ovsdbServer: number; readonly vswitchd: number };
  client: AgentClient;
  agent: AgentProcess;
  /** Starts the agent again (after kill or stop) and reconnects the client. */
  restartAgent(): Promise<void>;
  /** SIGKILL to ovs-vswitchd and the same command line again; resolves to its new PID. */
  restartVswitchd(): Promise<number>;
  /** Deletes every VM (through the agent, if it runs), stops the agent and OVS, removes the namespace. */
  stop(): Promise<void>;
}

/** A vhost before its agent: namespace, uplink (prepare), OVS, and the flags its agent takes. */
export interface VhostNode {
  readonly name: string;
  readonly dir: string;
  readonly ovs: OvsInstance;
  readonly token: string;
  readonly grpcSocket: string;
  readonly httpSocket: string;
  /** The agent's flags (without --netns: an agent inside the namespace needs none). */
  readonly agentArgs: readonly string[];
}

/** The namespace, its uplink and its OVS; on failure nothing of it is left. */
export async function startVhostNode(opts: LocalVhostOptions): Promise<VhostNode> {
  mkdirSync(opts.dir, { recursive: true });
  let tokenFile = opts.tokenFile;
  if (tokenFile === undefined) {
    tokenFile = join(opts.dir, 'agent.token');
    writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  }
  const token = readFileSync(tokenFile, 'utf8').trim();
  await netnsCreate(opts.name, { sysctls: opts.sysctls ?? [] }).catch((e: unknown) => {
    if (isSysError(e) && e.code === 'EEXIST') throw new Error(`network namespace ${opts.name} already exists: is a previous run still up?`);
    throw e;
  });
  let ovs: OvsInstance;
  try {
    await opts.prepare?.(opts.name);
    ovs = await startOvsInstance({ dir: join(opts.dir, 'ovs'), netnsName: opts.name });
  } catch (e) {
    await netnsDelete([opts.name]);
    throw e;
  }
  const grpcSocket = join(opts.dir, 'agent.sock');
  const httpSocket = join(opts.dir, 'agent-http.sock');
  const agentArgs = [
    '--vhost', opts.name, '--ovsdb', ovs.dbSocket, '--datapath-type', 'netdev',
    '--listen', `unix:${grpcSocket}`, '--http', `unix:${httpSocket}`, '--token-file', tokenFile,
    ...(opts.agentArgs ?? []),
  ];
  return { name: opts.name, dir: opts.dir, ovs, token, grpcSocket, httpSocket, agentArgs };
}

export async function startLocalVhost(opts: LocalVhostOptions): Promise<LocalVhost> {
  const node = await startVhostNode(opts);
  const { ovs, grpcSocket, httpSocket, token } = node;
  const args = node.agentArgs;
  const launch = (): Promise<AgentProcess> => startAgentProcess({ netns: opts.name, args, logFile: join(opts.dir, 'agent.log') });
  let agent: AgentProcess;
  try {
    agent = await launch();
  } catch (e) {
    await ovs.stop();
    await netnsDelete([opts.name]);
    throw e;
  }
  const vhost: LocalVhost = {
    name: opts.name,
    dir: opts.dir,
    dbSocket: ovs.dbSocket,
    grpcAddress: `unix:${grpcSocket}`,
    httpSocket,
    token,
    agentArgs: args,
    get ovsPids() {
      return ovs.pids;
    },
    client: new AgentClient(`unix:${grpcSocket}`, { token }),
    agent,
    async restartAgent() {
      vhost.client.close();
      await vhost.agent.stop();
      vhost.agent = await launch();
      vhost.client = new AgentClient(`unix:${grpcSocket}`, { token });
    },
    restartVswitchd: () => ovs.restartVswitchd(),
    async stop() {
      try {
        if (vhost.agent.alive()) {
          const { vms } = await vhost.client.listVms();
          if (vms.length > 0) {
            await vhost.client.applyAll({
              operations: vms.map((v) => ({ op: { $case: 'delete', value: { id: v.id, name: v.name } }, startOffsetMs: 0 })),
              concurrency: 0,
              startAtUnixMs: 0,
            });
          }
        }
      } finally {
        vhost.client.close();
        await vhost.agent.stop();
        // Whatever the agent could not delete (it died, or failed): the VMs OVSDB still records.
        await deleteRecordedVms(ovs.dbSocket, opts.name).catch(() => undefined);
        await ovs.stop();
        await netnsDelete([opts.name]);
      }
    },
  };
  return vhost;
}

/** Deletes the namespaces of every VM this vhost's OVSDB records (external_ids vm-name). */
async function deleteRecordedVms(dbSocket: string, vhost: string): Promise<void> {
  const names = await vmsFromOvsdb(dbSocket, vhost);
  if (names.length > 0) await netnsDelete(names);
}

/** Removes a vhost folder (after stop). */
export function removeVhostDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

