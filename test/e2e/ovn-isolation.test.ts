// OVN mode on the local emulation with real OVN, what keeps traffic apart: two VPCs with the same
// CIDR stay isolated while every pair inside each pings; a security group that allows only TCP 80
// in blocks ping into its ports (TCP 80 still connects, TCP 81 does not) while ports without it
// ping each other. After each delete NB and SB hold nothing of the scenario; after `local down`
// nothing of the emulation is left.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ovnNames } from '../../coordinator/ovn/names.js';
import { OvnE2e, expectAllReady } from './ovn-harness.js';

const e2e = new OvnE2e('oi');
/** Debian's python, not a version manager's shim: `ip netns exec` then runs it as the PID we stop. */
const PYTHON = '/usr/bin/python3';

/** Does a TCP connect from inside `vm` to ip:port succeed (3 s at most)? */
function tcpConnects(vm: string, ip: string, port: number): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', vm, PYTHON, '-c', 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()', ip, String(port)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A TCP listener inside `vm` on ip:port (python's http.server), once it listens. */
async function listen(vm: string, ip: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', vm, PYTHON, '-m', 'http.server', String(port), '--bind', ip], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  // Checked from inside the VM itself: the listener is up, whatever the network lets through.
  while (!tcpConnects(vm, ip, port)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no listener on ${ip}:${port} in ${vm}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

describe('OVN mode on the local emulation: isolation', () => {
  it('two VPCs with the same CIDR: every pair inside each pings, no VM reaches the other VPC', async () => {
    const name = `${e2e.prefix}-vpc`;
    const run = await e2e.run(`
name: ${name}
provider: ovn
hosts: { count: 5 }
vpcs:
  - { name: blue, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.1.0/24, vms: 8 }, { name: b, cidr: 10.1.2.0/24, vms: 4 }] }
  - { name: green, cidr: 10.1.0.0/16, subnets: [{ name: a, cidr: 10.1.1.0/24, vms: 10 }] }
placement: { type: uniform }
test: { type: ping, cross_vpc_checks: 30 }
`);
    expectAllReady(run, 22);
    // Every ordered pair inside each VPC (blue's two subnets are one switch), and 30 pairs across
    // VPCs (to addresses the source's own VPC does not have) that must get no reply.
    expect(run.report.ping).toMatchObject({ pairsPassed: 12 * 11 + 10 * 9, pairsFailed: 0, isolationPassed: 30, isolationFailed: 0 });
    // One logical switch per VPC, as ovn-nbctl shows them.
    const names = ovnNames(run.id);
    expect(e2e.nbctl('ls-list')).toContain(names.switch('blue'));
    expect(e2e.nbctl('ls-list')).toContain(names.switch('green'));

    // The same address in both VPCs: a blue VM that pings it reaches the blue VM (its MAC in the
    // pinger's neighbor table), never the green one.
    const vms = await e2e.vmsOf(name);
    const blue = vms.filter((x) => x.vm.id.startsWith(`${name}-0-`)).map((x) => x.vm);
    const green = vms.filter((x) => x.vm.id.startsWith(`${name}-1-`)).map((x) => x.vm);
    expect([blue.length, green.length]).toEqual([12, 10]);
    const shared = blue.filter((b) => green.some((g) => g.ip === b.ip));
    expect(shared.length).toBeGreaterThan(0);
    const target = shared[0]!;
    const twin = green.find((g) => g.ip === target.ip)!;
    const pinger = blue.find((b) => b !== target)!;
    expect(e2e.pingFrom(pinger.name, target.ip)).toBe(3);
    const neigh = execFileSync('ip', ['-n', pinger.name, 'neigh', 'show', target.ip], { encoding: 'utf8' });
    expect(neigh).toContain(target.mac);
    expect(neigh).not.toContain(twin.mac);

    await e2e.deleteAndCheckGone(run);
  }, 600_000);

  it('a security group allowing only TCP 80 in: ping into its ports fails, TCP 80 connects, TCP 81 does not; ports without it ping each other', async () => {
    const name = `${e2e.prefix}-sg`;
    // No router: one switch, so only the group's ACLs stand between the two subnets.
    const run = await e2e.run(`
name: ${name}
provider: ovn
hosts: { count: 5 }
security_groups:
  - name: web
    rules: [{ direction: ingress, protocol: tcp, port_range_min: 80, port_range_max: 80, remote_ip_prefix: 0.0.0.0/0 }]
vpcs:
  - name: vpc1
    cidr: 10.3.0.0/16
    subnets:
      - { name: web, cidr: 10.3.1.0/24, vms: 4, security_groups: [web] }
      - { name: plain, cidr: 10.3.2.0/24, vms: 4 }
placement: { type: uniform }
test: { type: ping }
`);
    expect(run.vms).toMatchObject({ requested: 8, ready: 8, failed: 0 });
    const vms = await e2e.vmsOf(name);
    const web = vms.filter((x) => x.vm.ip.startsWith('10.3.1.')).map((x) => x.vm);
    const plain = vms.filter((x) => x.vm.ip.startsWith('10.3.2.')).map((x) => x.vm);
    expect([web.length, plain.length]).toEqual([4, 4]);
    // The ping test expects every pair of the VPC to reach: exactly the pairs INTO a web port fail
    // (7 sources x 4 web ports), with no reply at all; every other pair passes, from a web port
    // out too (egress is allowed, and so are the replies to it).
    const webIps = new Set(web.map((v) => v.ip));
    const failed = run.report.ping.failedPairs;
    expect(failed.filter((p) => !webIps.has(p.dstIp)).map((p) => `${p.src} -> ${p.dst}`)).toEqual([]);
    expect(failed.map((p) => p.received)).toEqual(failed.map(() => 0));
    expect(run.report.ping).toMatchObject({ pairsFailed: 7 * 4, pairsPassed: 8 * 7 - 7 * 4 });
    expect(run.error).toBe('28 ping pairs failed');
    // The group as OVN holds it: a port group with the web ports, its to-lport allow for tcp 80.
    const pg = ovnNames(run.id).portGroup('web');
    expect(e2e.nbctl('--bare', '--columns=ports', 'find', 'Port_Group', `name=${pg}`).trim().split(/\s+/)).toHaveLength(4);
    expect(e2e.nbctl('acl-list', pg)).toMatch(new RegExp(`to-lport\\s+1002 \\(outport == @${pg} && ip4 && tcp && tcp.dst == 80\\) allow-related`));

    // From outside, as a user would: ping into a web port gets nothing, between plain ports it works.
    expect(e2e.pingFrom(plain[0]!.name, web[0]!.ip)).toBe(0);
    expect(e2e.pingFrom(plain[0]!.name, plain[1]!.ip)).toBe(3);
    // The rule lets TCP 80 in (a listener in the web VM), while TCP 81 (also listening) stays shut:
    // an allow rule, not a blanket drop.
    const listeners: ChildProcess[] = [];
    try {
      listeners.push(await listen(web[0]!.name, web[0]!.ip, 80), await listen(web[0]!.name, web[0]!.ip, 81));
      expect(tcpConnects(plain[0]!.name, web[0]!.ip, 80)).toBe(true);
      expect(tcpConnects(web[1]!.name, web[0]!.ip, 80)).toBe(true);
      expect(tcpConnects(plain[0]!.name, web[0]!.ip, 81)).toBe(false);
    } finally {
      for (const l of listeners) {
        l.kill('SIGTERM');
        if (l.exitCode === null) await new Promise((r) => l.once('exit', r));
      }
    }

    await e2e.deleteAndCheckGone(run);
  }, 600_000);

  it('local down leaves nothing of the emulation: namespaces, links, processes, files', async () => {
    await e2e.downAndCheckGone();
  }, 180_000);
});
