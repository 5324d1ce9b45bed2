// The scenario's network: VPCs and their subnets (addresses checked: inside the VPC, no overlap,
// a usable gateway), security groups, and routers between a VPC's subnets.
import { broadcastOf, formatIpv4, networkOf, parseIpv4 } from '@merak/common';
import type { RouterModel, SecurityGroupModel, SecurityGroupRuleModel, SubnetModel, VpcModel } from './model.js';
import { MAX_VMS, type Obj, type Reader, cidr } from './reader.js';

export function parseVpcs(r: Reader, root: Obj): VpcModel[] {
  const vpcs: VpcModel[] = [];
  const names = new Set<string>();
  const vnis = new Set<number>();
  r.list(root, 'vpcs', '').forEach((raw, i) => {
    const p = `vpcs[${i}].`;
    const o = r.obj(raw, `vpcs[${i}]`, ['name', 'cidr', 'vni', 'subnets']);
    if (!o) return;
    const name = r.name(o, 'name', p);
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another VPC`);
    names.add(name);
    const vpcNet = cidr(r, o.cidr, `${p}cidr`);
    const vni = r.int(o, 'vni', p, 1000 + i + 1, 1, 0xffffff);
    // An explicit VNI must not collide; a default one never does (the coordinator picks free ones).
    if (o.vni !== undefined) {
      if (vnis.has(vni)) r.issue(`${p}vni`, `${vni} is used by another VPC`);
      vnis.add(vni);
    }
    const subnets: SubnetModel[] = [];
    const inputIndex: number[] = []; // subnets[k] came from the input's subnets[inputIndex[k]]
    r.list(o, 'subnets', p).forEach((rawS, j) => {
      const sp = `${p}subnets[${j}].`;
      const s = r.obj(rawS, `${p}subnets[${j}]`, ['name', 'cidr', 'gateway', 'vms', 'security_groups']);
      if (!s) return;
      const sname = r.name(s, 'name', sp, `subnet${j}`);
      const net = cidr(r, s.cidr, `${sp}cidr`);
      const vms = r.int(s, 'vms', sp, 0, 0, MAX_VMS);
      if (!net) return;
      if (net.prefixLength > 29) r.issue(`${sp}cidr`, `/${net.prefixLength} leaves no room for VMs (at most /29)`);
      if (vpcNet && (net.prefixLength < vpcNet.prefixLength || networkOf(net.network, vpcNet.prefixLength) !== vpcNet.network)) {
        r.issue(`${sp}cidr`, `${String(s.cidr)} is not inside the VPC's ${String(o.cidr)}`);
      }
      subnets.forEach((other, k) => {
        const shorter = Math.min(other.prefixLength, net.prefixLength);
        if (networkOf(other.network, shorter) === networkOf(net.network, shorter)) r.issue(`${sp}cidr`, `overlaps subnets[${inputIndex[k]}] ${other.cidr}`);
      });
      inputIndex.push(j);
      const first = net.network + 1;
      const gwText = r.str(s, 'gateway', sp, formatIpv4(first))!;
      const gw = parseIpv4(gwText);
      if (gw === undefined || networkOf(gw, net.prefixLength) !== net.network || gw === net.network || gw === broadcastOf(net.network, net.prefixLength)) {
        r.issue(`${sp}gateway`, `${gwText} is not a host address of ${String(s.cidr)}`);
      }
      const usable = 2 ** (32 - net.prefixLength) - 3; // minus network, broadcast, gateway
      if (vms > usable) r.issue(`${sp}vms`, `${vms} VMs do not fit: ${String(s.cidr)} has ${usable} usable addresses`);
      const securityGroups = r.list(s, 'security_groups', sp).map((g, k) => {
        if (typeof g !== 'string' || g === '') r.issue(`${sp}security_groups[${k}]`, 'must be the name of one of security_groups');
        return String(g);
      });
      subnets.push({ name: sname, cidr: String(s.cidr), network: net.network, prefixLength: net.prefixLength, gateway: gwText, vms, securityGroups });
    });
    if (subnets.length === 0) r.issue(`${p}subnets`, 'needs at least one subnet');
    vpcs.push({ name, cidr: String(o.cidr), network: vpcNet?.network ?? 0, prefixLength: vpcNet?.prefixLength ?? 0, vni, vniAuto: o.vni === undefined, subnets });
  });
  if (vpcs.length === 0) r.issue('vpcs', 'needs at least one VPC');
  return vpcs;
}

export function parseSecurityGroups(r: Reader, root: Obj): SecurityGroupModel[] {
  const names = new Set<string>();
  return r.list(root, 'security_groups', '').flatMap((raw, i) => {
    const p = `security_groups[${i}].`;
    const o = r.obj(raw, `security_groups[${i}]`, ['name', 'description', 'rules']);
    if (!o) return [];
    const name = r.name(o, 'name', p);
    if (name === 'default') r.issue(`${p}name`, "'default' is the group Alcor makes for every tenant itself");
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another security group`);
    names.add(name);
    const rules = r.list(o, 'rules', p).flatMap((rawR, k): SecurityGroupRuleModel[] => {
      const rp = `${p}rules[${k}].`;
      const ro = r.obj(rawR, `${p}rules[${k}]`, ['direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix']);
      if (!ro) return [];
      const protocol = r.str(ro, 'protocol', rp, undefined, ['tcp', 'udp', 'icmp']) as SecurityGroupRuleModel['protocol'];
      const min = ro.port_range_min === undefined ? undefined : r.int(ro, 'port_range_min', rp, 0, 0, 65535);
      const max = ro.port_range_max === undefined ? min : r.int(ro, 'port_range_max', rp, 0, 0, 65535);
      if ((min !== undefined || max !== undefined) && protocol !== 'tcp' && protocol !== 'udp') r.issue(`${rp}port_range_min`, 'ports need protocol tcp or udp');
      if (min !== undefined && max !== undefined && max < min) r.issue(`${rp}port_range_max`, `${max} is below port_range_min ${min}`);
      const prefix = r.str(ro, 'remote_ip_prefix', rp, undefined);
      if (prefix !== undefined) cidr(r, prefix, `${rp}remote_ip_prefix`);
      return [{
        direction: r.str(ro, 'direction', rp, 'ingress', ['ingress', 'egress']) as 'ingress' | 'egress',
        ethertype: r.str(ro, 'ethertype', rp, 'IPv4', ['IPv4', 'IPv6']) as 'IPv4' | 'IPv6',
        protocol, portRangeMin: min, portRangeMax: max, remoteIpPrefix: prefix,
      }];
    });
    return [{ name, description: r.str(o, 'description', p, '') ?? '', rules }];
  });
}

export function parseRouters(r: Reader, root: Obj, vpcs: readonly VpcModel[]): RouterModel[] {
  const names = new Set<string>();
  const attached = new Map<string, string>();
  return r.list(root, 'routers', '').flatMap((raw, i) => {
    const p = `routers[${i}].`;
    const o = r.obj(raw, `routers[${i}]`, ['name', 'vpc', 'subnets']);
    if (!o) return [];
    const name = r.name(o, 'name', p);
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another router`);
    names.add(name);
    const vpcName = r.str(o, 'vpc', p, undefined) ?? '';
    const vpc = vpcs.find((v) => v.name === vpcName);
    if (!vpc) r.issue(`${p}vpc`, vpcName === '' ? 'is required' : `'${vpcName}' is not one of vpcs`);
    const subnets = r.list(o, 'subnets', p).map((sn, k) => {
      const text = String(sn);
      if (vpc && !vpc.subnets.some((s) => s.name === text)) r.issue(`${p}subnets[${k}]`, `'${text}' is not a subnet of VPC '${vpcName}'`);
      const key = `${vpcName}/${text}`;
      const other = attached.get(key);
      if (other !== undefined) r.issue(`${p}subnets[${k}]`, `'${text}' is attached to router '${other}' already (a subnet has one gateway)`);
      attached.set(key, name);
      return text;
    });
    if (subnets.length === 0) r.issue(`${p}subnets`, 'needs at least one subnet');
    return [{ name, vpc: vpcName, subnets }];
  });
}
