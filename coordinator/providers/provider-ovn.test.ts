import { describe, expect, it } from 'vitest';
import { ruleMatch, securityGroupAcls } from '../ovn/acl.js';
import { ovnNames, shortIdOfVmPort } from '../ovn/names.js';
import { topologyOf } from '../ovn/topology.js';
import { Plan } from '../plan/index.js';
import { parseScenario } from '../scenario/index.js';

const ID = '3f2a9c1e-0000-4000-8000-000000000001';

describe('OVN provider: names, topology, ACLs', () => {
  it('names rows per scenario; port group names are identifiers an ACL match can use', () => {
    const n = ovnNames(ID);
    expect(n.switch('vpc-1')).toBe('merak.3f2a9c1e.ls.vpc-1');
    expect(n.switch('vpc-1', 's-2')).toBe('merak.3f2a9c1e.ls.vpc-1.s-2');
    expect(n.portGroup('web-tier')).toBe('merak_3f2a9c1e_web_tier');
    expect(n.portGroup('web-tier')).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(n.vmOfPort(n.vmPort('demo-0-1-7'))).toBe('demo-0-1-7');
    expect(shortIdOfVmPort(n.vmPort('demo-0-1-7'))).toBe('3f2a9c1e');
    expect(shortIdOfVmPort('some-other-port')).toBeUndefined();
  });

  it('turns each rule into a match, with Neutron\u2019s default egress and drops of IPv4 only (ARP untouched)', () => {
    const base = { ethertype: 'IPv4', protocol: undefined, portRangeMin: undefined, portRangeMax: undefined, remoteIpPrefix: undefined } as const;
    expect(ruleMatch('pg', { ...base, direction: 'ingress' })).toBe('outport == @pg && ip4');
    expect(ruleMatch('pg', { ...base, direction: 'egress', protocol: 'udp', portRangeMin: 53, portRangeMax: 60, remoteIpPrefix: '10.0.0.0/8' }))
      .toBe('inport == @pg && ip4 && ip4.dst == 10.0.0.0/8 && udp && udp.dst >= 53 && udp.dst <= 60');
    expect(ruleMatch('pg', { ...base, direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', remoteIpPrefix: '::/0' })).toBe('outport == @pg && ip6 && icmp6');
    const acls = securityGroupAcls('pg', { name: 'g', description: '', rules: [] });
    expect(acls.map((a) => `${a.direction} ${a.priority} ${a.action} ${a.match}`)).toEqual([
      'from-lport 1002 allow-related inport == @pg && ip4', 'from-lport 1002 allow-related inport == @pg && ip6',
      'to-lport 1001 drop outport == @pg && ip4', 'from-lport 1001 drop inport == @pg && ip4',
    ]);
  });

  it('puts a VPC on one switch unless a router joins its subnets', () => {
    const s = parseScenario(`
name: t
provider: ovn
hosts: { count: 1 }
security_groups: [{ name: web }]
vpcs:
  - { name: a, cidr: 10.1.0.0/16, subnets: [{ name: x, cidr: 10.1.0.0/24, vms: 1, security_groups: [web] }, { name: y, cidr: 10.1.1.0/24, vms: 1 }] }
  - { name: b, cidr: 10.2.0.0/16, subnets: [{ name: x, cidr: 10.2.0.0/24, vms: 1 }, { name: y, cidr: 10.2.1.0/24, vms: 1 }] }
routers: [{ name: r, vpc: b, subnets: [x, y] }]
`);
    const t = topologyOf(s, ovnNames(ID));
    expect(t.switches.map((x) => x.name)).toEqual(['merak.3f2a9c1e.ls.a', 'merak.3f2a9c1e.ls.b.x', 'merak.3f2a9c1e.ls.b.y']);
    expect(t.routers[0]!.ports.map((p) => [p.network, p.switchName])).toEqual([['10.2.0.1/24', 'merak.3f2a9c1e.ls.b.x'], ['10.2.1.1/24', 'merak.3f2a9c1e.ls.b.y']]);
    const plan = new Plan(s, ['h0'], '1');
    const ports = Array.from({ length: plan.total }, (_, i) => t.vmPort(plan.vm(i)));
    expect(ports.map((p) => [p.switchName, p.portGroups])).toEqual([
      ['merak.3f2a9c1e.ls.a', ['merak_3f2a9c1e_web']], ['merak.3f2a9c1e.ls.a', []], ['merak.3f2a9c1e.ls.b.x', []], ['merak.3f2a9c1e.ls.b.y', []],
    ]);
  });
});
