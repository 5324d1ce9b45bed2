// The vhost image's entrypoint, run as it is (bash, outside a container) inside a fresh network
// namespace: it brings up ovsdb-server, ovs-vswitchd and the worktree's built agent, the agent
// registers with a real coordinator, and SIGTERM (or a child's death) takes everything down.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, type ServiceError, credentials } from '@grpc/grpc-js';
import { netnsCreate, netnsDelete } from '@merak/native';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { namespacesWithPrefix, requireRoot, uniquePrefix } from '../fixtures/local-vhost.js';
import { COORDINATOR_MAIN, alive, httpGet, killLeftovers, processGroup, processesInNetns, runBash, startEntrypoint, vhostEnvIn } from './entrypoint-harness.js';
const TOKEN = 'entrypoint-test-token-0123456789';

describe('datapath choice (the probe is injectable)', () => {
  const base = { PATH: process.env.PATH, MERAK_OVS_KMOD_DIR: '/nonexistent/openvswitch' };

  it('kernel datapath when the module directory exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'merak-kmod-'));
    try {
      expect(runBash('choose_datapath', { ...base, MERAK_OVS_KMOD_DIR: dir })).toEqual({ code: 0, out: `system the openvswitch kernel module is loaded (${dir} exists)\n` });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('kernel datapath when modprobe loads it, userspace when it cannot, and the reason says why', () => {
    expect(runBash('choose_datapath', { ...base, MERAK_MODPROBE: 'true' })).toEqual({ code: 0, out: "system 'true openvswitch' loaded the kernel module\n" });
    const r = runBash('choose_datapath', { ...base, MERAK_MODPROBE: 'false' });
    expect(r).toEqual({ code: 0, out: "netdev no openvswitch kernel module (/nonexistent/openvswitch absent; 'false openvswitch' failed: no output): userspace datapath\n" });
  });

  it('MERAK_DATAPATH forces a choice, and a bad value is an error', () => {
    expect(runBash('choose_datapath', { ...base, MERAK_DATAPATH: 'netdev', MERAK_MODPROBE: 'true' }).out).toBe('netdev forced by MERAK_DATAPATH\n');
    expect(runBash('choose_datapath', { ...base, MERAK_DATAPATH: 'kernel' })).toEqual({ code: 1, out: "invalid MERAK_DATAPATH 'kernel' (auto, system or netdev)\n" });
  });
});

describe('agent flags', () => {
  it('passes each MERAK_<FLAG> as --flag, only when it is set, after the flags it always gives', () => {
    const env = { PATH: process.env.PATH, MERAK_COORDINATOR: 'coordinator:40050', MERAK_HOST_AGENT: '/opt/aca/bin/AlcorControlAgent -a 10.0.0.1 -p 30014', MERAK_UNDERLAY_INTERFACE: 'eth1', MERAK_AGENT_ARGS: '--log-level debug' };
    const r = runBash('VHOST=vhost-0 DB_SOCKET=/run/ovs/db.sock DATAPATH=netdev; agent_args; printf "%s\\n" "${AGENT_ARGS[@]}"', env);
    expect(r.out.trim().split('\n')).toEqual([
      '--vhost', 'vhost-0', '--ovsdb', '/run/ovs/db.sock', '--datapath-type', 'netdev',
      '--coordinator', 'coordinator:40050', '--underlay-interface', 'eth1', '--host-agent', '/opt/aca/bin/AlcorControlAgent -a 10.0.0.1 -p 30014',
      '--log-level', 'debug',
    ]);
  });
});

describe('the entrypoint in a fresh network namespace', () => {
  let prefix = '';
  let dir = '';
  let coordinator: ChildProcess | undefined;
  const coordinatorSocket = (): string => join(dir, 'coordinator.sock');

  beforeAll(async () => {
    requireRoot();
    prefix = uniquePrefix('ep');
    dir = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    coordinator = spawn(
      process.execPath,
      [COORDINATOR_MAIN, '--listen', `unix:${coordinatorSocket()}`, '--http', `unix:${join(dir, 'coordinator-http.sock')}`, '--state', join(dir, 'state.db'), '--token-file', join(dir, 'token')],
      { stdio: 'ignore', detached: true },
    );
    const deadline = Date.now() + 20_000;
    while (!existsSync(coordinatorSocket()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(coordinatorSocket())) throw new Error('the coordinator did not come up');
  });

  afterEach(killLeftovers);

  afterAll(async () => {
    if (coordinator && coordinator.exitCode === null) {
      const exited = new Promise((r) => coordinator!.once('exit', r));
      coordinator.kill('SIGTERM');
      await exited;
    }
    if (prefix) await netnsDelete(namespacesWithPrefix(prefix));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The environment of one vhost, its agent's HTTP on a unix socket in its folder. */
  const vhostEnv = (name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv =>
    vhostEnvIn(dir, name, { MERAK_HTTP: `unix:${join(dir, name, 'agent-http.sock')}`, ...extra });

  async function listAgents(): Promise<coordinatorV1.AgentState[]> {
    const client = new coordinatorV1.CoordinatorClient(`unix:${coordinatorSocket()}`, credentials.createInsecure());
    const md = new Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    try {
      return await new Promise((resolve, reject) => client.listAgents({}, md, (e: ServiceError | null, r?: coordinatorV1.ListAgentsResponse) => (e ? reject(e) : resolve(r!.agents))));
    } finally {
      client.close();
    }
  }

  it('brings OVS and the agent up, the agent registers, and SIGTERM stops agent, vswitchd, ovsdb-server', async () => {
    const name = `${prefix}-vh`;
    await netnsCreate(name);
    const env = vhostEnv(name, { MERAK_TOKEN_FILE: join(dir, 'token'), MERAK_COORDINATOR: `unix:${coordinatorSocket()}` });
    const ep = startEntrypoint(name, env);

    const chosen = await ep.line((l) => l.msg.startsWith('datapath: '));
    // The real probe: this machine's kernel has no openvswitch module (then: userspace).
    expect(chosen.datapath).toBe(existsSync('/sys/module/openvswitch') ? 'system' : 'netdev');
    expect(String(chosen.reason)).toMatch(chosen.datapath === 'netdev' ? /^no openvswitch kernel module/ : /kernel module/);
    await ep.line((l) => l.msg === 'agent ready');
    await ep.line((l) => l.msg === 'registered with the coordinator');

    // OVS came up with that datapath: the bridge the agent made, and vswitchd's own view of it.
    const db = `--db=unix:${join(env.OVS_RUNDIR!, 'db.sock')}`;
    expect(execFileSync('ovs-vsctl', [db, 'get', 'Bridge', 'br-int', 'datapath_type'], { encoding: 'utf8' }).trim()).toBe(chosen.datapath);
    const dpif = execFileSync('ovs-appctl', ['-t', join(env.OVS_RUNDIR!, 'ovs-vswitchd.ctl'), 'dpif/show'], { encoding: 'utf8' });
    expect(dpif).toContain(chosen.datapath === 'netdev' ? 'netdev@ovs-netdev' : 'system@ovs-system');
    const version = /\(Open vSwitch\) (\S+)/.exec(execFileSync('ovs-vswitchd', ['--version'], { encoding: 'utf8' }))![1];
    expect(execFileSync('ovs-vsctl', [db, 'get', 'Open_vSwitch', '.', 'ovs_version'], { encoding: 'utf8' }).trim()).toBe(`"${version}"`);

    // The agent is ready (its OVSDB and netlink checks pass) and the coordinator lists it, connected.
    const ready = await httpGet(join(dir, name, 'agent-http.sock'), '/readyz');
    expect(ready).toEqual({ status: 200, body: 'ovsdb: ok\nnetlink: ok\n' });
    const agents = await listAgents();
    expect(agents.find((a) => a.info?.name === name)).toMatchObject({ connected: true, info: { name, address: env.MERAK_LISTEN, hollow: false } });

    // What it started: three processes, in its process group, inside the namespace.
    const started = Object.fromEntries(ep.lines.filter((l) => l.msg.startsWith('started ')).map((l) => [l.msg.slice(8), Number(l.pid)]));
    expect(Object.keys(started).sort()).toEqual(['agent', 'ovs-vswitchd', 'ovsdb-server']);
    expect(Number(readFileSync(join(env.OVS_RUNDIR!, 'ovsdb-server.pid'), 'utf8'))).toBe(started['ovsdb-server']);
    expect(Number(readFileSync(join(env.OVS_RUNDIR!, 'ovs-vswitchd.pid'), 'utf8'))).toBe(started['ovs-vswitchd']);
    expect(processGroup(ep.pid).sort()).toEqual([ep.pid, ...Object.values(started)].sort());
    expect(processesInNetns(name).sort()).toEqual([ep.pid, ...Object.values(started)].sort());

    process.kill(ep.pid, 'SIGTERM');
    expect(await ep.exited).toBe(0);
    const stops = ep.lines.filter((l) => l.msg.startsWith('stopped ')).map((l) => l.msg);
    expect(stops).toEqual(['stopped agent', 'stopped ovs-vswitchd', 'stopped ovsdb-server']);
    expect(ep.lines.find((l) => l.msg === 'shutting down (VMs stay)')).toBeDefined();
    for (const pid of Object.values(started)) expect(alive(pid), `pid ${pid}`).toBe(false);
    expect(processGroup(ep.pid)).toEqual([]);
    expect(processesInNetns(name)).toEqual([]);
    await netnsDelete([name]);
    expect(namespacesWithPrefix(name)).toEqual([]);
  });

  it('exits non-zero, and stops the rest, when one of its processes dies', async () => {
    const name = `${prefix}-vk`;
    await netnsCreate(name);
    // The token from the environment this time (MERAK_TOKEN, no file).
    const ep = startEntrypoint(name, vhostEnv(name, { MERAK_TOKEN_FILE: join(dir, 'absent'), MERAK_TOKEN: TOKEN }));
    await ep.line((l) => l.msg === 'agent ready');
    const vswitchd = Number(ep.lines.find((l) => l.msg === 'started ovs-vswitchd')!.pid);
    process.kill(vswitchd, 'SIGKILL');
    expect(await ep.exited).not.toBe(0);
    expect(ep.lines.find((l) => l.msg === 'ovs-vswitchd exited on its own: stopping the rest')).toMatchObject({ pid: String(vswitchd), code: '137' });
    expect(ep.lines.filter((l) => l.msg.startsWith('stopped ')).map((l) => l.msg)).toEqual(['stopped agent', 'stopped ovsdb-server']);
    expect(processGroup(ep.pid)).toEqual([]);
    expect(processesInNetns(name)).toEqual([]);
    await netnsDelete([name]);
  });

  it("refuses the manifests' placeholder token before starting anything", async () => {
    const name = `${prefix}-vp`;
    await netnsCreate(name);
    writeFileSync(join(dir, 'placeholder'), 'REPLACE-ME-see-docs-deployment.md');
    const env = vhostEnv(name, { MERAK_TOKEN_FILE: join(dir, 'placeholder') });
    const ep = startEntrypoint(name, env);
    expect(await ep.exited).toBe(2);
    expect(ep.lines.at(-1)).toMatchObject({ level: 50, msg: expect.stringContaining("is the manifests' placeholder") });
    expect(ep.lines.filter((l) => l.msg.startsWith('started '))).toEqual([]);
    expect(existsSync(env.OVS_RUNDIR!)).toBe(false);
    await netnsDelete([name]);
  });
});
