// The first start of a `merak local up` emulation (run by its supervisor, which thereby is the
// parent of every process): the coordinator, then N vhosts registered with it, all recorded in
// the local folder. On failure it leaves the records for `local down` to remove what was made.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinatorClient } from '../coordinator-client/coordinator-client.js';
import { type CoordinatorLaunch, EMULATION_DIR, type LocalRecord, type LocalSettings, writeLocalRecord } from './local-record.js';
import { startCoordinatorProcess } from './coordinator-process.js';
import { type LocalOvn, startLocalEmulation } from './emulation.js';
import { recordOf } from './process-record.js';

/** The coordinator's flags for the emulation's OVN (its NB and SB over their unix sockets). */
export function ovnCoordinatorArgs(ovn: LocalOvn): string[] {
  return ['--ovn-nb', ovn.nb, '--ovn-sb', ovn.sb];
}

/** Where the coordinator of an emulation with host access runs its control-plane fault proxy (on that address). */
export const FAULT_PROXY_PORT = 40051;

/** Starts everything; `log` gets the lines a user sees. Resolves to the record written. */
export async function launchLocal(dir: string, s: LocalSettings, log: (line: string) => void): Promise<LocalRecord> {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const coordinator = `unix:${join(dir, 'coordinator.sock')}`;
  let record: LocalRecord | undefined;
  // The coordinator starts once the underlay (and OVN central) is up, before the vhosts: with OVN
  // it is given the central's databases, which then exist. Recorded at its spawn: `down` stops it.
  const startCoordinator = async (ovn: LocalOvn | undefined, hostIp: string | undefined): Promise<void> => {
    log(`coordinator: ${coordinator} (log ${join(dir, 'coordinator.log')})`);
    const launch: CoordinatorLaunch = {
      listen: coordinator, http: `unix:${join(dir, 'coordinator-http.sock')}`, state: join(dir, 'state.db'), tokenFile, logFile: join(dir, 'coordinator.log'),
      // With host access the vhosts reach this machine: the control-plane fault proxy listens there,
      // on a fixed port, so the URLs agents recorded with their VMs hold after a coordinator restart.
      extraArgs: [...(s.dataplane ? ['--dataplane', s.dataplane] : []), ...(ovn ? ovnCoordinatorArgs(ovn) : []), ...(hostIp ? ['--fault-proxy', `${hostIp}:${FAULT_PROXY_PORT}`] : [])],
    };
    const write = (pid: number): void => {
      record = {
        coordinator, tokenFile, prefix: s.prefix, hosts: s.hosts, settings: s, coordinatorLaunch: launch,
        coordinatorProcess: recordOf(pid) ?? { pid, startTime: 0 }, startedAt: new Date().toISOString(),
      };
      writeLocalRecord(dir, record);
    };
    write((await startCoordinatorProcess({ ...launch, extraArgs: [...launch.extraArgs], onSpawn: write })).pid);
  };
  if (s.ovn) log(`OVN central: its own namespace on the underlay, NB + SB ovsdb-server, ovn-northd (logs in ${join(dir, EMULATION_DIR, 'ovn-central')})`);
  const agents = s.agentsPerProcess !== undefined && s.agentsPerProcess > 1 ? `an agent (${s.agentsPerProcess} vhosts per agent process)` : 'agent';
  log(`${s.hosts} vhosts: network namespace, underlay veth, ovsdb-server + ovs-vswitchd (userspace datapath), ${agents}${s.ovn ? ', ovn-controller' : ''}`);
  const emulation = await startLocalEmulation({
    prefix: s.prefix, hosts: s.hosts, stateDir: join(dir, EMULATION_DIR), coordinator, tokenFile,
    onTuning: (changes) => log(`raised machine-wide kernel limits (the ARP table is shared by all namespaces): ${changes.join(', ')}`),
    beforeVhosts: startCoordinator,
    ...(s.underlayCidr !== undefined ? { underlayCidr: s.underlayCidr } : {}),
    ...(s.hostAccess ? { hostAccess: true } : {}),
    ...(s.ovn ? { ovn: true } : {}),
    ...(s.agentsPerProcess !== undefined && s.agentsPerProcess > 1 ? { agentsPerProcess: s.agentsPerProcess } : {}),
  });
  // The supervisor restarts from the records: the clients of this first start are not needed.
  for (const v of emulation.vhosts) v.client.close();
  if (!record) throw new Error('the coordinator was not started (launcher bug)');
  record = { ...record, hostIp: emulation.hostIp };
  writeLocalRecord(dir, record);
  const client = new CoordinatorClient(coordinator, readFileSync(tokenFile, 'utf8').trim());
  try {
    await waitForAgents(client, emulation.vhosts.map((v) => v.name));
  } finally {
    client.close();
  }
  for (const v of emulation.vhosts) log(`  ${v.name}  underlay ${v.underlayIp}  registered`);
  if (emulation.hostIp) log(`  this machine is ${emulation.hostIp} on the underlay: services here (e.g. npm run alcor:server -- --host ${emulation.hostIp}) are reachable from the vhosts`);
  if (emulation.ovn) {
    const c = emulation.ovn;
    log(`  OVN central ${c.netns}  underlay ${c.underlayIp}  NB ${c.nb} | ${c.nbTcp}  SB ${c.sb} | ${c.sbTcp}`);
    log(`  look: ovn-nbctl --db=${c.nb} show; ovn-sbctl --db=${c.sb} show`);
  }
  return record;
}

/** Resolves once every named agent is connected to the coordinator. */
export async function waitForAgents(client: CoordinatorClient, names: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { agents } = await client.listAgents().catch(() => ({ agents: [] as Awaited<ReturnType<CoordinatorClient['listAgents']>>['agents'] }));
    const connected = new Set(agents.filter((a) => a.connected).map((a) => a.info?.name));
    const missing = names.filter((n) => !connected.has(n));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`agents not registered after ${timeoutMs / 1000} s: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
