// The vhost entrypoint's OVN mode (deploy/overlays/ovn), run for real: the entrypoint in a fresh
// network namespace with the built agent, a real OVN southbound ovsdb-server in that namespace on
// TCP (as the overlay's MERAK_OVN_REMOTE=tcp:<central>:6642), the pod's eth0 a dummy interface that
// the agent takes as its underlay. What a user checks: the chassis named after the vhost appears
// in the SB with the pod's address as its tunnel endpoint, `entrypoint.sh ready` (the overlay's
// readiness probe) follows the SB connection, and SIGTERM removes the chassis and every process.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { namespacesWithPrefix, requireRoot, uniquePrefix } from '../fixtures/local-vhost.js';
import { ENTRYPOINT, type Entrypoint, alive, killLeftovers, processGroup, processesInNetns, startEntrypoint, vhostEnvIn } from './entrypoint-harness.js';

const TOKEN = 'entrypoint-ovn-test-token-0123456789';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';
// Inside the test's own namespace: no other test sees these addresses or this port.
const SB_PORT = 6642;
const POD_IP = '198.51.100.10';
const AGENT_HTTP = '127.0.0.1:9001';

type Cell = string | number | boolean | Cell[] | { [key: string]: Cell };

/** OVSDB JSON cells as plain values: ["uuid",x] -> x, ["set",[...]] -> [...], ["map",[[k,v]]] -> {k: v}. */
function cell(v: unknown): Cell {
  if (!Array.isArray(v)) return v as Cell;
  const [tag, data] = v as [string, unknown];
  if (tag === 'uuid' || tag === 'named-uuid') return data as string;
  if (tag === 'set') return (data as unknown[]).map(cell);
  if (tag === 'map') return Object.fromEntries((data as [unknown, unknown][]).map(([k, x]) => [String(cell(k)), cell(x)]));
  return v as Cell;
}

/** Rows of `table` through the real CLI (`ovs-vsctl` or `ovn-sbctl`), as the user would list them. */
function rows(cli: 'ovs-vsctl' | 'ovn-sbctl', db: string, table: string, columns: string[]): Record<string, Cell>[] {
  const out = JSON.parse(execFileSync(cli, [`--db=${db}`, '--format=json', `--columns=${columns.join(',')}`, 'list', table], { encoding: 'utf8' })) as { headings: string[]; data: unknown[][] };
  return out.data.map((r) => Object.fromEntries(out.headings.map((h, i) => [h, cell(r[i])])));
}

async function until<T>(what: string, get: () => T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the entrypoint in OVN mode', () => {
  let prefix = '';
  let dir = '';
  let sb: ChildProcess | undefined;

  beforeAll(() => {
    requireRoot();
    prefix = uniquePrefix('eo');
    dir = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  });

  afterEach(async () => {
    await killLeftovers();
    if (sb && sb.exitCode === null && sb.signalCode === null) {
      const exited = new Promise((r) => sb!.once('exit', r));
      sb.kill('SIGKILL');
      await exited;
    }
  });

  afterAll(async () => {
    if (prefix) await netnsDelete(namespacesWithPrefix(prefix));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The environment of one vhost, the token from MERAK_TOKEN (no file). */
  const vhostEnv = (name: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
    vhostEnvIn(dir, name, { MERAK_TOKEN_FILE: join(dir, 'absent'), MERAK_TOKEN: TOKEN, ...extra });

  /** A namespace like a pod's: lo up, and an eth0 holding the pod IP (a veth; its peer stays in the namespace). */
  async function podNetns(name: string, withEth0: boolean): Promise<void> {
    await netnsCreate(name);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    if (!withEth0) return;
    execFileSync('ip', ['-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    execFileSync('ip', ['-n', name, 'link', 'set', 'peer0', 'up']);
    execFileSync('ip', ['-n', name, 'address', 'add', `${POD_IP}/24`, 'dev', 'eth0']);
    execFileSync('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  }

  /** The overlay's readiness probe, run as the kubelet would: in the pod, with the container's environment. */
  function ready(netns: string, env: NodeJS.ProcessEnv): { code: number; out: string } {
    try {
      return { code: 0, out: execFileSync('nsenter', [`--net=/run/netns/${netns}`, '--', 'bash', ENTRYPOINT, 'ready'], { env, encoding: 'utf8' }) };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { code: err.status, out: err.stdout };
    }
  }

  const startedPids = (ep: Entrypoint): Record<string, number> => Object.fromEntries(ep.lines.filter((l) => l.msg.startsWith('started ')).map((l) => [l.msg.slice(8), Number(l.pid)]));

  it('runs ovn-controller as a chassis named after the vhost, ready once the SB answers; SIGTERM removes the chassis and everything', async () => {
    const name = `${prefix}-vo`;
    await podNetns(name, true);
    const env = vhostEnv(name, {
      MERAK_OVN_REMOTE: `tcp:127.0.0.1:${SB_PORT}`,
      MERAK_UNDERLAY_IP: POD_IP,
      MERAK_UNDERLAY_INTERFACE: 'eth0',
      MERAK_HTTP: AGENT_HTTP,
    });
    const ovsDb = `unix:${join(env.OVS_RUNDIR!, 'db.sock')}`;
    const ep = startEntrypoint(name, env);
    const chosen = await ep.line((l) => l.msg.startsWith('datapath: '));
    const datapath = String(chosen.datapath);
    await ep.line((l) => l.msg === 'agent ready');
    await ep.line((l) => l.msg === 'ovn-controller answers');

    // The chassis' settings, read back from the vhost's OVSDB.
    const ids = rows('ovs-vsctl', ovsDb, 'Open_vSwitch', ['external_ids'])[0]!.external_ids;
    expect(ids).toMatchObject({
      'system-id': name, hostname: name, 'ovn-remote': `tcp:127.0.0.1:${SB_PORT}`, 'ovn-encap-type': 'geneve',
      'ovn-encap-ip': POD_IP, 'ovn-bridge': 'br-ovn', 'ovn-bridge-datapath-type': datapath,
    });

    // No SB yet: the agent is ready, the pod is not.
    const before = ready(name, env);
    expect(before.code).toBe(1);
    expect(before.out).toMatch(/^agent: HTTP\/1\.1 200 OK: ovsdb: ok; netlink: ok; underlay: ok\novn-controller: not connected\n$/);

    // The OVN central's SB, in the pod's namespace on TCP (and a unix socket for the checks).
    const sbDb = join(dir, 'sb.db');
    const sbSock = `unix:${join(dir, 'sb.sock')}`;
    execFileSync('ovsdb-tool', ['create', sbDb, SB_SCHEMA]);
    // SB_Global is made before the TCP remote opens, as an OVN central has it before any chassis
    // connects: ovn-controller 23.03 reaching an SB without it died of SIGSEGV (1 run in ~10).
    sb = spawn('nsenter', [`--net=/run/netns/${name}`, '--', 'ovsdb-server', sbDb, `--remote=p${sbSock}`, `--unixctl=${join(dir, 'sb.ctl')}`, `--log-file=${join(dir, 'sb.log')}`, '-vconsole:off'], {
      env: { PATH: process.env.PATH, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir },
      stdio: 'ignore',
      detached: true,
    });
    const sbPid = sb.pid!;
    await until('the SB socket', () => (existsSync(join(dir, 'sb.sock')) ? true : undefined));
    execFileSync('ovn-sbctl', [`--db=${sbSock}`, 'init']);
    execFileSync('ovs-appctl', ['-t', join(dir, 'sb.ctl'), 'ovsdb-server/add-remote', `ptcp:${SB_PORT}:127.0.0.1`]);

    // ovn-controller reconnects, registers the chassis and its encapsulation, and makes br-ovn.
    const chassis = await until('the chassis in the SB', () => rows('ovn-sbctl', sbSock, 'Chassis', ['name', 'hostname', 'encaps']).find((c) => c.name === name));
    expect(chassis.hostname).toBe(name);
    const encaps = rows('ovn-sbctl', sbSock, 'Encap', ['chassis_name', 'type', 'ip']);
    expect(encaps).toEqual([{ chassis_name: name, type: 'geneve', ip: POD_IP }]);
    // The last answer goes into the error: a red run says which check stayed down.
    let lastReady = '';
    const afterSb = await until('ready', () => {
      const r = ready(name, env);
      lastReady = r.out;
      return r.code === 0 ? r : undefined;
    }).catch((e: unknown) => {
      const recent = ep.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${(e as Error).message}; the last check said: ${JSON.stringify(lastReady)}; the entrypoint's last lines:\n${recent}`);
    });
    expect(afterSb.out).toBe('agent: HTTP/1.1 200 OK: ovsdb: ok; netlink: ok; underlay: ok\novn-controller: connected\n');
    const bridge = await until('br-ovn', () => rows('ovs-vsctl', ovsDb, 'Bridge', ['name', 'datapath_type', 'fail_mode']).find((b) => b.name === 'br-ovn'));
    expect(bridge).toEqual({ name: 'br-ovn', datapath_type: datapath, fail_mode: 'secure' });

    // What it started: four processes, in its process group, inside the namespace (with the test's SB).
    const started = startedPids(ep);
    expect(Object.keys(started).sort()).toEqual(['agent', 'ovn-controller', 'ovs-vswitchd', 'ovsdb-server']);
    const ovnPid = started['ovn-controller']!;
    expect(Number(readFileSync(join(env.OVS_RUNDIR!, 'ovn-controller.pid'), 'utf8'))).toBe(ovnPid);
    expect(existsSync(join(env.OVS_RUNDIR!, `ovn-controller.${ovnPid}.ctl`))).toBe(true);
    expect(readFileSync(join(env.OVS_LOGDIR!, 'ovn-controller.log'), 'utf8')).toContain(`tcp:127.0.0.1:${SB_PORT}: connected`);
    expect(processGroup(ep.pid).sort()).toEqual([ep.pid, ...Object.values(started)].sort());
    expect(processesInNetns(name).sort()).toEqual([ep.pid, sbPid, ...Object.values(started)].sort());

    process.kill(ep.pid, 'SIGTERM');
    expect(await ep.exited).toBe(0);
    expect(ep.lines.find((l) => l.msg.startsWith('SIGTERM: stopping '))?.msg).toBe('SIGTERM: stopping ovn-controller, then agent, then ovs-vswitchd, then ovsdb-server');
    expect(ep.lines.filter((l) => l.msg.startsWith('stopped ')).map((l) => l.msg)).toEqual(['stopped ovn-controller', 'stopped agent', 'stopped ovs-vswitchd', 'stopped ovsdb-server']);
    // `ovn-appctl exit`, not SIGTERM: ovn-controller exited by itself (0, where the OVS daemons say 143),
    // and its chassis left the SB (after SIGTERM it stays there).
    expect(ep.lines.find((l) => l.msg === 'stopped ovn-controller')?.code).toBe('0');
    expect(rows('ovn-sbctl', sbSock, 'Chassis', ['name'])).toEqual([]);
    expect(rows('ovn-sbctl', sbSock, 'Chassis_Private', ['name'])).toEqual([]);
    expect(rows('ovn-sbctl', sbSock, 'Encap', ['ip'])).toEqual([]);
    for (const pid of Object.values(started)) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(processGroup(ep.pid)).toEqual([]);
    expect(processesInNetns(name)).toEqual([sbPid]);

    const sbExited = new Promise((r) => sb!.once('exit', r));
    sb.kill('SIGTERM');
    await sbExited;
    expect(processesInNetns(name)).toEqual([]);
    await netnsDelete([name]);
    expect(namespacesWithPrefix(name)).toEqual([]);
  });

  it('takes the encap IP, type and bridge from MERAK_OVN_*, and exits non-zero, stopping the rest, when ovn-controller dies', async () => {
    const name = `${prefix}-vd`;
    await podNetns(name, false);
    const env = vhostEnv(name, {
      MERAK_OVN_REMOTE: `tcp:127.0.0.1:${SB_PORT}`,
      MERAK_OVN_ENCAP_IP: POD_IP,
      MERAK_OVN_ENCAP_TYPE: 'vxlan',
      MERAK_OVN_BRIDGE: 'br-test',
      MERAK_HTTP: `unix:${join(dir, name, 'agent-http.sock')}`,
    });
    const ep = startEntrypoint(name, env);
    const settings = await ep.line((l) => l.msg === 'OVN chassis settings written');
    expect(settings).toMatchObject({ 'system-id': name, 'ovn-encap-ip': POD_IP, 'ovn-encap-type': 'vxlan', 'ovn-bridge': 'br-test' });
    const ids = rows('ovs-vsctl', `unix:${join(env.OVS_RUNDIR!, 'db.sock')}`, 'Open_vSwitch', ['external_ids'])[0]!.external_ids;
    expect(ids).toMatchObject({ 'ovn-encap-ip': POD_IP, 'ovn-encap-type': 'vxlan', 'ovn-bridge': 'br-test' });
    const ovnPid = Number((await ep.line((l) => l.msg === 'started ovn-controller')).pid);
    expect((await ep.line((l) => l.msg === 'ovn-controller answers')).control).toBe(join(env.OVS_RUNDIR!, `ovn-controller.${ovnPid}.ctl`));
    // `ready` cannot reach an agent on a unix socket: it says so, and fails.
    expect(ready(name, env)).toEqual({ code: 1, out: `agent: MERAK_HTTP is a unix socket (${env.MERAK_HTTP}): this check needs HOST:PORT\n` });

    process.kill(ovnPid, 'SIGKILL');
    expect(await ep.exited).not.toBe(0);
    expect(ep.lines.find((l) => l.msg === 'ovn-controller exited on its own: stopping the rest')).toMatchObject({ pid: String(ovnPid), code: '137' });
    expect(ep.lines.filter((l) => l.msg.startsWith('stopped ')).map((l) => l.msg)).toEqual(['stopped agent', 'stopped ovs-vswitchd', 'stopped ovsdb-server']);
    expect(processGroup(ep.pid)).toEqual([]);
    expect(processesInNetns(name)).toEqual([]);
    await netnsDelete([name]);
  });

  it.each([
    ['the overlay placeholder', { MERAK_OVN_REMOTE: 'tcp:REPLACE-WITH-OVN-CENTRAL:6642', MERAK_UNDERLAY_IP: POD_IP }, "is the manifests' placeholder"],
    ['no tunnel endpoint', { MERAK_OVN_REMOTE: 'tcp:192.0.2.1:6642' }, "OVN mode needs this chassis' tunnel endpoint"],
    ['an SSL remote', { MERAK_OVN_REMOTE: 'ssl:192.0.2.1:6642', MERAK_UNDERLAY_IP: POD_IP }, 'invalid MERAK_OVN_REMOTE'],
    ['an unknown encapsulation', { MERAK_OVN_REMOTE: 'tcp:192.0.2.1:6642', MERAK_UNDERLAY_IP: POD_IP, MERAK_OVN_ENCAP_TYPE: 'gre' }, 'invalid MERAK_OVN_ENCAP_TYPE'],
  ])('refuses %s before starting anything', async (_what, extra, message) => {
    const name = `${prefix}-vr`;
    await podNetns(name, false);
    const env = vhostEnv(name, extra);
    const ep = startEntrypoint(name, env);
    expect(await ep.exited).toBe(2);
    expect(ep.lines.at(-1)).toMatchObject({ level: 50, msg: expect.stringContaining(message) });
    expect(ep.lines.filter((l) => l.msg.startsWith('started '))).toEqual([]);
    expect(existsSync(env.OVS_RUNDIR!)).toBe(false);
    await netnsDelete([name]);
  });
});
