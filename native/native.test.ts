import { closeSync, existsSync, fstatSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it, afterEach } from 'vitest';
import {
  AF_INET, AF_NETLINK, ETHTOOL_STXCSUM, NETLINK_ROUTE, SOCK_DGRAM, SOCK_RAW, createKernelLane, ethtoolSetValue, isSysError, netnsCreate, netnsDelete,
  netnsEnter, openSocket,
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

  it('mounts each namespace on a link to one shared empty inode, not a new file, and ip netns handles it as usual', async () => {
    const [a, b] = [name(), name()];
    await netnsCreate(a);
    await netnsCreate(b);
    // Mounted over: each name shows its own namespace.
    expect(statSync(`/run/netns/${a}`).ino).not.toBe(statSync(`/run/netns/${b}`).ino);
    execFileSync('ip', ['netns', 'exec', a, 'true']);
    // Underneath: one inode, linked once per name (ip netns delete unmounts and unlinks the name).
    execFileSync('umount', [`/run/netns/${a}`]);
    execFileSync('umount', [`/run/netns/${b}`]);
    const [sa, sb] = [statSync(`/run/netns/${a}`), statSync(`/run/netns/${b}`)];
    expect(sa.isFile() && sb.isFile()).toBe(true);
    expect(sa.size).toBe(0);
    expect(sa.ino).toBe(sb.ino);
    expect(sa.nlink).toBeGreaterThanOrEqual(2);
    expect(await netnsDelete([a, b])).toEqual([null, null]);
    expect(existsSync(`/run/netns/${a}`) || existsSync(`/run/netns/${b}`)).toBe(false);
    // With every name of that inode gone, the next namespace starts another one.
    const c = name();
    await netnsCreate(c);
    execFileSync('ip', ['netns', 'exec', c, 'true']);
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

/** RTM_NEWLINK (ACK requested) setting IFF_UP on a link by name: nlmsghdr + ifinfomsg + IFLA_IFNAME. */
function linkUpRequest(ifname: string, seq: number): Buffer {
  const nameLen = 4 + ifname.length + 1;
  const len = 32 + ((nameLen + 3) & ~3);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0); b.writeUInt16LE(16, 4); b.writeUInt16LE(0x5, 6); b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(1, 24); b.writeUInt32LE(1, 28); // ifi_flags = ifi_change = IFF_UP
  b.writeUInt16LE(nameLen, 32); b.writeUInt16LE(3, 34); b.write(ifname, 36, 'latin1'); // IFLA_IFNAME
  return b;
}

const isUp = (ns: string, dev: string) => /<[^>]*\bUP\b/.test(execFileSync('ip', ['-n', ns, 'link', 'show', dev], { encoding: 'utf8' }));

describe('kernel lane', () => {
  it('runs jobs in the order they were queued, each with its own outcome', async () => {
    const lane = createKernelLane({ maxBatch: 2 });
    const [a, b] = [name(), name()];
    const order: string[] = [];
    const track = (tag: string, p: Promise<unknown>) => p.then((v) => { order.push(tag); return v; }, (e: unknown) => { order.push(tag); return e; });
    const results = await Promise.all([
      track('a', lane.netnsCreate(a, { sysctls: [['net.ipv4.tcp_mtu_probing', '2']] })),
      track('a again', lane.netnsCreate(a, {})),
      track('b', lane.netnsCreate(b, { sockets: [[AF_INET, SOCK_DGRAM, 0]] })),
    ]);
    expect(order).toEqual(['a', 'a again', 'b']);
    expect(results[0]).toEqual([]);
    expect(isSysError(results[1]) && results[1].code).toBe('EEXIST');
    expect(results[2]).toHaveLength(1);
    closeSync((results[2] as number[])[0]!);
    expect(execFileSync('ip', ['netns', 'exec', a, 'sysctl', '-n', 'net.ipv4.tcp_mtu_probing'], { encoding: 'utf8' }).trim()).toBe('2');
  });

  it('sends netlink requests and ioctls in order off the JS thread; the kernel answers on the socket', async () => {
    const lane = createKernelLane();
    const ns = name();
    const [nl, inet] = (await lane.netnsCreate(ns, { sockets: [[AF_NETLINK, SOCK_RAW, NETLINK_ROUTE], [AF_INET, SOCK_DGRAM, 0]] })) as [number, number];
    execFileSync('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    const acks: number[] = [];
    const sock = openSocket(nl, (msgs) => { for (const m of msgs) if (m.readUInt16LE(4) === 2) acks.push(m.readInt32LE(16)); }, () => undefined);
    try {
      sock.bindNetlink(0);
      // Queued together: the link comes up, then its tx checksum offload goes off.
      const [sent] = await Promise.all([lane.sendTo(sock, linkUpRequest('probe0', 7)), lane.ethtoolSetValue(inet, 'probe0', ETHTOOL_STXCSUM, 0)]);
      expect(sent).toBe(linkUpRequest('probe0', 7).length);
      await new Promise((r) => setTimeout(r, 20));
      expect(acks).toEqual([0]);
      expect(isUp(ns, 'probe0')).toBe(true);
      expect(/tx-checksumming: (\w+)/.exec(execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-k', 'probe0'], { encoding: 'utf8' }))?.[1]).toBe('off');
      const bad = await lane.ethtoolSetValue(inet, 'absent0', ETHTOOL_STXCSUM, 0).catch((e: unknown) => e);
      expect(isSysError(bad) && [bad.code, bad.syscall]).toEqual(['ENODEV', 'ioctl(SIOCETHTOOL)']);
      expect(() => lane.sendTo({} as never, Buffer.alloc(16))).toThrow(/not a native socket/);
    } finally {
      sock.close();
      closeSync(inet);
    }
  });

  it('keeps a socket\'s fd open for a send queued before close(), and refuses sends after it', async () => {
    const lane = createKernelLane();
    const [ns, other] = [name(), name()];
    const [nl] = (await netnsCreate(ns, { sockets: [[AF_NETLINK, SOCK_RAW, NETLINK_ROUTE]] })) as [number];
    const sock = openSocket(nl, () => undefined, () => undefined);
    sock.bindNetlink(0);
    // Behind a namespace creation, so the send runs after close() returned.
    const creating = lane.netnsCreate(other, {});
    const sending = lane.sendTo(sock, linkUpRequest('lo', 1));
    sock.close();
    await creating;
    expect(await sending).toBe(linkUpRequest('lo', 1).length);
    expect(isUp(ns, 'lo')).toBe(true);
    await expect(lane.sendTo(sock, linkUpRequest('lo', 2))).rejects.toThrow(/closed/);
  });
});

describe('a listener inside a namespace', () => {
  it('opens a listening TCP socket inside a namespace: a server outside it accepts what is sent to that port inside it', async () => {
    const ns = name();
    await netnsCreate(ns);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const [fd] = (await netnsEnter(`/run/netns/${ns}`, { listen: { ip: '127.0.0.1', port: 0 } })) as [number];
    const server = createServer();
    const received = new Promise<string>((resolve) => server.on('connection', (c) => c.setEncoding('utf8').on('data', resolve)));
    await new Promise<void>((resolve) => server.listen({ fd }, resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      expect(port).toBeGreaterThan(0);
      execFileSync('ip', ['netns', 'exec', ns, 'bash', '-c', `echo -n hello > /dev/tcp/127.0.0.1/${port}`]);
      expect(await received).toBe('hello');
      // The same port again in that namespace is taken; a bad address is refused, naming it.
      const taken = await netnsEnter(`/run/netns/${ns}`, { listen: { ip: '127.0.0.1', port } }).catch((e: unknown) => e);
      expect(isSysError(taken) && taken.code).toBe('EADDRINUSE');
      const bad = await netnsEnter(`/run/netns/${ns}`, { listen: { ip: 'not-an-ip', port: 1 } }).catch((e: unknown) => e);
      expect(isSysError(bad) && bad.code).toBe('EINVAL');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
