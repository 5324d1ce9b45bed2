// Security groups as OVN ACLs on a port group, with the allow-list semantics of Neutron (and of
// Alcor, which follows it): a port in a group may receive and send only what a rule of one of its
// groups allows, and replies to allowed traffic pass (allow-related, through conntrack). As Neutron
// and Alcor do for a new group, every group also allows all egress (IPv4 and IPv6). Rules are
// allow ACLs at priority 1002, above the group's drops at 1001, so the groups of a port add up.
// Only IP is dropped: ARP keeps working.
import type { SecurityGroupModel, SecurityGroupRuleModel } from '../scenario/index.js';

export const ALLOW_PRIORITY = 1002;
export const DROP_PRIORITY = 1001;

export interface AclSpec {
  readonly direction: 'to-lport' | 'from-lport';
  readonly priority: number;
  readonly match: string;
  readonly action: 'allow-related' | 'drop';
  /** What it stands for, in its external_ids (rule index, default-egress, drop). */
  readonly role: string;
}

/** The OVN match of one rule on port group `pg`. */
export function ruleMatch(pg: string, r: SecurityGroupRuleModel): string {
  const v6 = r.ethertype === 'IPv6';
  const ip = v6 ? 'ip6' : 'ip4';
  // ingress: traffic to the group's ports (its source is the remote); egress: from them.
  const parts = [r.direction === 'ingress' ? `outport == @${pg}` : `inport == @${pg}`, ip];
  if (r.remoteIpPrefix !== undefined && !/\/0$/.test(r.remoteIpPrefix)) parts.push(`${ip}.${r.direction === 'ingress' ? 'src' : 'dst'} == ${r.remoteIpPrefix}`);
  if (r.protocol === 'icmp') parts.push(v6 ? 'icmp6' : 'icmp4');
  else if (r.protocol !== undefined) {
    parts.push(r.protocol);
    const { portRangeMin: min, portRangeMax: max } = r;
    if (min !== undefined && max !== undefined && min === max) parts.push(`${r.protocol}.dst == ${min}`);
    else {
      if (min !== undefined) parts.push(`${r.protocol}.dst >= ${min}`);
      if (max !== undefined) parts.push(`${r.protocol}.dst <= ${max}`);
    }
  }
  return parts.join(' && ');
}

export function securityGroupAcls(pg: string, g: SecurityGroupModel): AclSpec[] {
  const acls: AclSpec[] = g.rules.map((r, i) => ({
    direction: r.direction === 'ingress' ? 'to-lport' : 'from-lport', priority: ALLOW_PRIORITY, match: ruleMatch(pg, r), action: 'allow-related', role: `rule-${i}`,
  }));
  for (const ip of ['ip4', 'ip6']) acls.push({ direction: 'from-lport', priority: ALLOW_PRIORITY, match: `inport == @${pg} && ${ip}`, action: 'allow-related', role: `default-egress-${ip}` });
  acls.push({ direction: 'to-lport', priority: DROP_PRIORITY, match: `outport == @${pg} && ip4`, action: 'drop', role: 'drop-ingress' });
  acls.push({ direction: 'from-lport', priority: DROP_PRIORITY, match: `inport == @${pg} && ip4`, action: 'drop', role: 'drop-egress' });
  return acls;
}
