// The agent's OVN monitor against a real ovsdb-server (Open_vSwitch schema, no vswitchd: only the
// database matters here). Rows are written with ovs-vsctl --no-wait, playing the parts of the agent
// (ports) and of ovn-controller (ovn-installed); the real ovn-controller sets them in
// agent-ovn.test.ts. Checked: waiters resolve on the update that marks their port, an earlier port
// of the same name does not count for a fresh wait, timeouts, one monitor for many waiters, and a
// lost connection failing the waits of the moment and reconnecting on the next use.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnInstallTimeoutError } from '../../agent/ovn/errors.js';
import { OvnInstalledWatcher } from '../../agent/ovn/installed-watcher.js';
import { OvsdbClient, OvsdbError } from '@merak/common';
import { waitFor } from '../fixtures/processes.js';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
let dir = '';
let server: ChildProcess | undefined;
let watcher: OvnInstalledWatcher | undefined;
const sock = (): string => join(dir, 'db.sock');
const ctl = (): string => join(dir, 'ovsdb-server.ctl');
const vsctl = (...args: string[]): string => execFileSync('ovs-vsctl', [`--db=unix:${sock()}`, '--no-wait', ...args], { encoding: 'utf8' });
const addPort = (name: string, ids: Record<string, string>): string =>
  vsctl('add-port', 'br-x', name, '--', 'set', 'Interface', name, 'type=internal', ...Object.entries(ids).map(([k, v]) => `external_ids:${k}=${v}`));
const install = (name: string): string => vsctl('set', 'Interface', name, 'external_ids:ovn-installed=true');

async function startServer(): Promise<void> {
  server = spawn('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${sock()}`, `--unixctl=${ctl()}`, `--log-file=${join(dir, 'ovsdb-server.log')}`], { stdio: 'ignore' });
  await waitFor(() => existsSync(sock()) && existsSync(ctl()), 10_000, 'ovsdb-server listens');
}

async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.exitCode !== null || s.signalCode !== null) return;
  const gone = new Promise((r) => s.once('exit', r));
  s.kill('SIGTERM');
  await gone;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-ovnwatch-'));
  execFileSync('ovsdb-tool', ['create', join(dir, 'conf.db'), SCHEMA]);
  await startServer();
  vsctl('init');
  watcher = new OvnInstalledWatcher(() => OvsdbClient.connect(sock()), pino({ level: 'silent' }));
});

afterAll(async () => {
  watcher?.close();
  await stopServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const w = (): OvnInstalledWatcher => watcher!;

describe('OvnInstalledWatcher on a real ovsdb-server', () => {
  it('finds OVN\'s bridge and configuration as ovn-controller would: ovn-bridge (default br-int), ovn-remote', async () => {
    expect(await w().integration()).toEqual({ bridge: 'br-int', bridgeExists: false, configured: false });
    vsctl('set', 'Open_vSwitch', '.', 'external_ids:ovn-remote=unix:/nowhere/sb.sock', 'external_ids:ovn-bridge=br-x');
    vsctl('add-br', 'br-x');
    // The monitor's update follows the commit ovs-vsctl waited for: give it a moment.
    let last = await w().integration();
    for (let i = 0; i < 100 && !last.bridgeExists; i++) {
      await new Promise((r) => setTimeout(r, 50));
      last = await w().integration();
    }
    expect(last).toEqual({ bridge: 'br-x', bridgeExists: true, configured: true });
  });

  it('resolves a wait registered before the port exists once its Interface is marked ovn-installed, not before', async () => {
    const wait = await w().expect('p1', { fresh: true });
    addPort('p1', { 'iface-id': 'lsp1' });
    let done = false;
    const until = wait.until(10_000, 'lsp1').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    install('p1');
    await until;
    expect(vsctl('get', 'Interface', 'p1', 'external_ids:ovn-installed').trim()).toBe('"true"');
    expect(w().isInstalled('p1')).toBe(true);
    expect(w().pending).toBe(0);
  });

  it('does not count an earlier port of the same name for a fresh wait; a wait on the VM in place takes it', async () => {
    // In place (a resend): the installed port counts at once.
    await (await w().expect('p1', { fresh: false })).until(1000, 'lsp1');
    // Fresh: the port is about to be re-made, the old installed row must not count.
    const stale = await w().expect('p1', { fresh: true });
    await expect(stale.until(300, 'lsp1')).rejects.toBeInstanceOf(OvnInstallTimeoutError);
    const fresh = await w().expect('p1', { fresh: true });
    vsctl('del-port', 'br-x', 'p1');
    addPort('p1', { 'iface-id': 'lsp1' });
    const until = fresh.until(10_000, 'lsp1');
    install('p1');
    await until;
    expect(w().pending).toBe(0);
  });

  it('times out with the port and logical port named, and forgets the wait', async () => {
    const wait = await w().expect('p9', { fresh: true });
    addPort('p9', { 'iface-id': 'lsp9' });
    const err = await wait.until(400, 'lsp9', 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvnInstallTimeoutError);
    expect((err as OvnInstallTimeoutError).code).toBe('TIMEOUT');
    expect((err as Error).message).toMatch(/port p9 \(iface-id lsp9\) ovn-installed within 400 ms/);
    expect(w().pending).toBe(0);
    // A cancelled wait is forgotten too.
    (await w().expect('p9', { fresh: true })).cancel();
    expect(w().pending).toBe(0);
    // The key removed: no longer installed.
    install('p9');
    await waitFor(() => w().isInstalled('p9'), 5000, 'p9 installed');
    vsctl('remove', 'Interface', 'p9', 'external_ids', 'ovn-installed');
    await waitFor(() => !w().isInstalled('p9'), 5000, 'p9 no longer installed');
  });

  it('serves 50 waits from one monitor, all resolved by the one transaction that marks them', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `q${i}`);
    const waits = await Promise.all(names.map((n) => w().expect(n, { fresh: true })));
    vsctl(...names.flatMap((n) => ['--', 'add-port', 'br-x', n, '--', 'set', 'Interface', n, 'type=internal', `external_ids:iface-id=l${n}`]));
    expect(w().pending).toBe(50);
    const all = Promise.all(waits.map((x, i) => x.until(10_000, `l${names[i]!}`)));
    vsctl(...names.flatMap((n) => ['--', 'set', 'Interface', n, 'external_ids:ovn-installed=true']));
    await all;
    expect(w().pending).toBe(0);
    // One monitor on the server, whatever the number of waits.
    expect(execFileSync('ovs-appctl', ['-t', ctl(), 'memory/show'], { encoding: 'utf8' })).toMatch(/monitors:1\b/);
  });

  it('fails the waits of the moment when the connection is lost, and reconnects on the next use', async () => {
    const wait = await w().expect('r1', { fresh: true });
    const until = wait.until(10_000, 'lr1').catch((e: unknown) => e);
    await stopServer();
    const err = await until;
    expect(err).toBeInstanceOf(OvsdbError);
    expect((err as Error).message).toMatch(/connection watching for ovn-installed was lost/);
    await startServer();
    const again = await w().expect('r1', { fresh: true });
    addPort('r1', { 'iface-id': 'lr1' });
    const done = again.until(10_000, 'lr1');
    install('r1');
    await done;
    expect((await w().integration()).bridge).toBe('br-x');
  });
});
