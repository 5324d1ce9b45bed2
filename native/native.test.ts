import { closeSync, existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, afterEach } from 'vitest';
import {
  AF_INET, AF_NETLINK, ETHTOOL_STXCSUM, NETLINK_ROUTE, SOCK_DGRAM, SOCK_RAW, ethtoolSetValue, isSysError, netnsCreate, netnsDelete, netnsEnter,
  openSocket,
} from './index.js';

if (process.getuid?.() !== 0) throw new Error('native tests need root (network namespaces): run as root');

const made: string[] = [];
const name = () => { const n = `mtest-nat-${randomBytes(4).toString('hex')}`; made.push(n); return n; };
afterEach(async () => { await netnsDelete(made.splice(0)); });

describe('netns', () => {
  it('creates a namespace visible to ip netns, with sysctls applied inside only', async () => {
    const ns = name();
    const fds = await netnsCreate(ns, { sysctls: [['net.ipv4.tcp_mtu_probing', '2']] });
    expect(fds).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(ns);
    const inside = execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.tcp_mtu_probing'], { encoding: 'utf8' });
    expect(inside.trim()).toBe('2');
    expect(readFileSync('/proc/sys/net/ipv4/tcp_mtu_probing', 'utf8').trim()).not.toBe('2');
  });

  it('rejects an existing name with EEXIST and leaves it intact', async () => {
    const ns = name();
    await netnsCreate(ns);
    const err = await netnsCreate(ns).catch((e: unknown) => e);
    expect(isSysError(err) && err.code).toBe('EEXIST');
    expect(existsSync(`/run/netns/${ns}`)).toBe(true);
  });

  it('deletes a batch, reporting ENOENT for the missing one', async () => {
    const a = name();
    await netnsCreate(a);
    const res = await netnsDelete([a, `${a}-missing`]);
    expect(res).toEqual([null, 'ENOENT']);
    expect(existsSync(`/run/netns/${a}`)).toBe(false);
  });

  it('opens a netlink socket inside a namespace that sees only that namespace', async () => {
    const ns = name();
    await netnsCreate(ns);
    execFileSync('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    const [fd] = await netnsEnter(`/run/netns/${ns}`, { sockets: [[AF_NETLINK, SOCK_RAW, NETLINK_ROUTE]] });
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const sock = openSocket(fd!, (msgs) => {
        received.push(...msgs);
        // NLMSG_DONE = 3 ends the dump
        if (msgs.some((m) => m.readUInt16LE(4) === 3)) { sock.close(); resolve(); }
      }, reject);
      sock.bindNetlink(0);
      // RTM_GETLINK dump: nlmsghdr(16) + ifinfomsg(16)
      const req = Buffer.alloc(32);
      req.writeUInt32LE(32, 0); req.writeUInt16LE(18, 4); req.writeUInt16LE(0x301, 6); req.writeUInt32LE(1, 8);
      sock.sendTo(req, 0);
    });
    await done;
    const text = Buffer.concat(received).toString('latin1');
    expect(text).toContain('probe0');
    expect(text).toContain('probe1');
    expect(text).toContain('lo');
  });

  it('returns an fd on the new namespace after the sockets, and ioctls through a socket opened inside', async () => {
    const ns = name();
    const fds = await netnsCreate(ns, { sockets: [[AF_INET, SOCK_DGRAM, 0]], namespaceFd: true });
    try {
      expect(fds).toHaveLength(2);
      const [inet, nsFd] = fds as [number, number];
      // The same nsfs inode as the file ip netns manages: the fd is that namespace.
      expect(fstatSync(nsFd).ino).toBe(statSync(`/run/netns/${ns}`).ino);
      execFileSync('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
      const txOf = (dev: string) => /tx-checksumming: (\w+)/.exec(execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-k', dev], { encoding: 'utf8' }))?.[1];
      expect(txOf('probe0')).toBe('on');
      ethtoolSetValue(inet, 'probe0', ETHTOOL_STXCSUM, 0);
      expect(txOf('probe0')).toBe('off');
      expect(txOf('probe1')).toBe('on');
      const err = (() => { try { ethtoolSetValue(inet, 'absent0', ETHTOOL_STXCSUM, 0); return undefined; } catch (e) { return e; } })();
      expect(isSysError(err) && [err.code, err.syscall, err.path]).toEqual(['ENODEV', 'ioctl(SIOCETHTOOL)', 'absent0']);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });
});
