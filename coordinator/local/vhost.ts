// One emulated host on this machine, built like a Kubernetes pod: its own network namespace, its
// own ovsdb-server + ovs-vswitchd (userspace datapath), and its own agent process.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vswitch } from '@merak/agent';
import { isSysError, netnsCreate, netnsDelete } from '@merak/native';
import { pino } from 'pino';
import { AgentClient } from '../agent-client/agent-client.js';
import { type AgentProcess, startAgentProcess } from './agent-process.js';
import { type OvsInstance, startOvsInstance } from './ovs-instance.js';

export interface LocalVhostOptions {
  /** The vhost's name; also its network namespace's name. */
  readonly name: string;
  /** A private folder for OVS's database, sockets and logs, and the agent's sockets and log. */
  readonly dir: string;
  /** Extra agent flags. */
  readonly agentArgs?: readonly string[];
}

export interface LocalVhost {
  readonly name: string;
  readonly dir: string;
  readonly dbSocket: string;
  readonly grpcAddress: string;
  readonly httpSocket: string;
  readonly token: string;
  client: AgentClient;
  agent: AgentProcess;
  /** Starts the agent again (after kill or stop) and reconnects the client. */
  restartAgent(): Promise<void>;
  /** Deletes every VM (through the agent, if it runs), stops the agent and OVS, removes the namespace. */
  stop(): Promise<void>;
}

export async function startLocalVhost(opts: LocalVhostOptions): Promise<LocalVhost> {
  mkdirSync(opts.dir, { recursive: true });
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(opts.dir, 'agent.token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  await netnsCreate(opts.name).catch((e: unknown) => {
    if (isSysError(e) && e.code === 'EEXIST') throw new Error(`network namespace ${opts.name} already exists: is a previous run still up?`);
    throw e;
  });
  let ovs: OvsInstance | undefined;
  try {
    ovs = await startOvsInstance({ dir: join(opts.dir, 'ovs'), netnsName: opts.name });
  } catch (e) {
    await netnsDelete([opts.name]);
    throw e;
  }
  const grpcSocket = join(opts.dir, 'agent.sock');
  const httpSocket = join(opts.dir, 'agent-http.sock');
  const args = [
    '--vhost', opts.name, '--ovsdb', ovs.dbSocket, '--datapath-type', 'netdev',
    '--listen', `unix:${grpcSocket}`, '--http', `unix:${httpSocket}`, '--token-file', tokenFile,
    ...(opts.agentArgs ?? []),
  ];
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
    client: new AgentClient(`unix:${grpcSocket}`, { token }),
    agent,
    async restartAgent() {
      vhost.client.close();
      await vhost.agent.stop();
      vhost.agent = await launch();
      vhost.client = new AgentClient(`unix:${grpcSocket}`, { token });
    },
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
        await deleteRecordedVms(ovs!.dbSocket, opts.name).catch(() => undefined);
        await ovs!.stop();
        await netnsDelete([opts.name]);
      }
    },
  };
  return vhost;
}

/** Deletes the namespaces of every VM this vhost's OVSDB records (external_ids vm-name). */
async function deleteRecordedVms(dbSocket: string, vhost: string): Promise<void> {
  const vswitch = await Vswitch.connect(dbSocket, 'br-int', vhost, silentLogger);
  try {
    const names = (await vswitch.list()).map((r) => r.externalIds['vm-name']).filter((n): n is string => n !== undefined);
    if (names.length > 0) await netnsDelete(names);
  } finally {
    vswitch.close();
  }
}

const silentLogger = pino({ level: 'silent' });

/** Removes a vhost folder (after stop). */
export function removeVhostDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

