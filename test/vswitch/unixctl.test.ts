// UnixctlClient against a real ovs-vswitchd (userspace datapath) in its own namespace: tunnel
// neighbours on a netdev bridge, and the tnl/neigh facts agent/vswitch/tunnel-neighbors.ts relies on.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsCreate, netnsDelete } from '@merak/native';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushTunnelNeighbors, listTunnelNeighbors, setTunnelNeighbor } from '../../agent/vswitch/tunnel-neighbors.js';
import { UnixctlClient, UnixctlError, vswitchdControlPath } from '../../agent/vswitch/unixctl.js';
import { type OvsInstance, startOvsInstance } from '../../lab/local/ovs-instance.js';

// Not the helpers of test/fixtures/local-vhost.ts: importing that module loads the whole agent
// (through lab/local/vhost.ts), and this test needs only the vswitch folder and OVS.
function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this test needs root: it creates a network namespace and runs OVS (run the suite as root)');
}

const PEER_A = { ip: '198.51.100.3', mac: 'aa:bb:cc:dd:ee:01' };
const PEER_B = { ip: '2001:db8::5', mac: 'aa:bb:cc:dd:ee:02' };

describe('ovs-vswitchd control socket: tunnel neighbours', () => {
  let netns: string | undefined;
  let dir: string | undefined;
  let ovs: OvsInstance | undefined;
  let client: UnixctlClient | undefined;

  const vsctl = (...args: string[]): string =>
    execFileSync('ovs-vsctl', ['--timeout=20', `--db=unix:${ovs!.dbSocket}`, ...args], { encoding: 'utf8' });
  const ctl = (): UnixctlClient => client!;

  beforeAll(async () => {
    requireRoot();
    const name = `mtux${randomBytes(3).toString('hex')}`;
    dir = mkdtempSync(join(tmpdir(), `merak-${name}-`));
    await netnsCreate(name);
    netns = name;
    ovs = await startOvsInstance({ dir: join(dir, 'ovs'), netnsName: netns });
    vsctl('add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev');
    client = await UnixctlClient.connect(vswitchdControlPath(ovs.dir), { timeoutMs: 5000 });
  });

  afterAll(async () => {
    client?.close();
    try {
      await ovs?.stop();
    } finally {
      try {
        if (netns) expect(await netnsDelete([netns])).toEqual([null]);
      } finally {
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('finds the control socket in both layouts', async () => {
    expect(vswitchdControlPath(ovs!.dir)).toBe(join(ovs!.dir, 'ovs-vswitchd.ctl'));
    // Debian's layout: only the pid file and <rundir>/ovs-vswitchd.<pid>.ctl, here a link to the real socket.
    const debian = join(dir!, 'debian-rundir');
    mkdirSync(debian);
    copyFileSync(join(ovs!.dir, 'ovs-vswitchd.pid'), join(debian, 'ovs-vswitchd.pid'));
    const pid = readFileSync(join(debian, 'ovs-vswitchd.pid'), 'utf8').trim();
    expect(pid).toBe(String(ovs!.pids.vswitchd));
    symlinkSync(join(ovs!.dir, 'ovs-vswitchd.ctl'), join(debian, `ovs-vswitchd.${pid}.ctl`));
    const path = vswitchdControlPath(debian);
    expect(path).toBe(join(debian, `ovs-vswitchd.${pid}.ctl`));
    const other = await UnixctlClient.connect(path, { timeoutMs: 5000 });
    try {
      expect(await other.call('version', [])).toMatch(/^ovs-vswitchd \(Open vSwitch\) \d+\.\d+\.\d+\n$/);
    } finally {
      other.close();
    }
  });

  it('lists the tnl/neigh commands, none of which deletes one entry', async () => {
    const commands = await ctl().call('list-commands', []);
    for (const c of ['tnl/neigh/set', 'tnl/neigh/show', 'tnl/neigh/flush', 'tnl/neigh/aging']) expect(commands).toContain(`  ${c}`);
    // tunnel-neighbors.ts removes one entry by flush + set; revisit that if this fails.
    expect(commands.match(/^ +tnl\/neigh\/\S+/gm)?.map((l) => l.trim()).sort()).toEqual(['tnl/neigh/aging', 'tnl/neigh/flush', 'tnl/neigh/set', 'tnl/neigh/show']);
  });

  it('sets two neighbours on br-phy, lists them back, and flush removes them', async () => {
    await flushTunnelNeighbors(ctl());
    await Promise.all([setTunnelNeighbor(ctl(), 'br-phy', PEER_A.ip, PEER_A.mac), setTunnelNeighbor(ctl(), 'br-phy', PEER_B.ip, PEER_B.mac)]);
    const listed = await listTunnelNeighbors(ctl());
    expect(listed.sort((a, b) => a.ip.localeCompare(b.ip))).toEqual([
      { ...PEER_A, bridge: 'br-phy', stale: false },
      { ...PEER_B, bridge: 'br-phy', stale: false },
    ]);
    // Setting the same IP again replaces its MAC.
    await setTunnelNeighbor(ctl(), 'br-phy', PEER_A.ip, 'aa:bb:cc:dd:ee:99');
    expect((await listTunnelNeighbors(ctl())).find((n) => n.ip === PEER_A.ip)?.mac).toBe('aa:bb:cc:dd:ee:99');
    await flushTunnelNeighbors(ctl());
    expect(await listTunnelNeighbors(ctl())).toEqual([]);
  });

  it('flush drops the entries of every bridge, even one vswitchd does not have', async () => {
    await setTunnelNeighbor(ctl(), 'br-phy', PEER_A.ip, PEER_A.mac);
    await setTunnelNeighbor(ctl(), 'br-none', PEER_A.ip, PEER_B.mac); // accepted: set does not check the bridge
    expect((await listTunnelNeighbors(ctl())).map((n) => n.bridge).sort()).toEqual(['br-none', 'br-phy']);
    await flushTunnelNeighbors(ctl());
    expect(await listTunnelNeighbors(ctl())).toEqual([]);
  });

  it('ages out entries it was given with set: there are no static ones', async () => {
    expect(await ctl().call('tnl/neigh/aging', [])).toBe('900\n');
    try {
      await ctl().call('tnl/neigh/aging', ['1']);
      await setTunnelNeighbor(ctl(), 'br-phy', PEER_A.ip, PEER_A.mac);
      const deadline = Date.now() + 10_000;
      while ((await listTunnelNeighbors(ctl())).length > 0) {
        expect(Date.now(), 'the entry should be purged about a second after it expires').toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await ctl().call('tnl/neigh/aging', ['900']);
    }
  });

  it('reports the daemon\'s errors as UnixctlError', async () => {
    const unknown = await ctl().call('tnl/neigh/delete', ['br-phy', PEER_A.ip]).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnixctlError);
    expect(unknown).toMatchObject({ method: 'tnl/neigh/delete', params: ['br-phy', PEER_A.ip], code: 'OVSDB' });
    expect((unknown as UnixctlError).text).toContain('is not a valid command');
    // Past our own argument checks, straight to the daemon.
    const badMac = await ctl().call('tnl/neigh/set', ['br-phy', PEER_A.ip, 'aa-bb-cc-dd-ee-ff']).catch((e: unknown) => e);
    expect(badMac).toMatchObject({ text: 'bad MAC address' });
    const extra = await ctl().call('tnl/neigh/show', ['br-phy']).catch((e: unknown) => e);
    expect(extra).toBeInstanceOf(UnixctlError);
    // The connection is still usable.
    expect(await ctl().call('tnl/neigh/flush', [])).toBe('OK\n');
  });
});
