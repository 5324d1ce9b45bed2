// Security group rules (SG manager, NodePort 30008): `SG/controller/SecurityGroupRuleController.java`
// and its service. Rules are made one at a time or in bulk for groups that exist, listed and read
// from the rule cache, and deleted by id; the answers wrap them as {"security_group_rule": …} /
// {"security_group_rules": […]}. Alcor's own quirks are kept: a rule whose id exists already is
// appended to its group a second time (the cache put replaces it, the group's list grows), and
// the create echoes the request (with its id and the path's project), null fields included.
import { randomUUID } from 'node:crypto';
import type { JsonObject, SecurityGroupRule } from './entities.js';
import { AlcorHttpError } from './errors.js';
import { isObject, readArray, readInt, readObject, readString, requestObject } from './request-fields.js';
import { queryFilter } from './query-filter.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';

const RULE_KEYS = new Set(['id', 'project_id', 'tenant_id', 'name', 'description', 'security_group_id', 'remote_group_id', 'direction',
  'remote_ip_prefix', 'protocol', 'port_range_max', 'port_range_min', 'ethertype']);

const IPV4_PREFIX = /^(\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?$/;
const IPV6_PREFIX = /^[0-9a-fA-F:]+:[0-9a-fA-F:.]*(\/\d{1,3})?$/;

function readRule(obj: JsonObject, projectId: string): SecurityGroupRule {
  return {
    id: readString(obj, 'id') ?? '', // '' marks "none given": replaced below
    project_id: projectId, // the path wins (`setProjectId`)
    tenant_id: readString(obj, 'tenant_id') ?? null, // not defaulted for rules (checkTenantId is commented out)
    name: readString(obj, 'name') ?? null,
    description: readString(obj, 'description') ?? null,
    security_group_id: readString(obj, 'security_group_id') ?? '',
    remote_group_id: readString(obj, 'remote_group_id') ?? null,
    direction: readString(obj, 'direction') ?? '',
    remote_ip_prefix: readString(obj, 'remote_ip_prefix') ?? null,
    protocol: readString(obj, 'protocol') ?? null,
    port_range_max: readInt(obj, 'port_range_max') ?? null,
    port_range_min: readInt(obj, 'port_range_min') ?? null,
    ethertype: readString(obj, 'ethertype') ?? null,
  };
}

/** `RestParameterValidator.checkSecurityGroupRule`, in its order. */
function checkRule(r: SecurityGroupRule, givenId: boolean): void {
  if (r.security_group_id === '') throw new AlcorHttpError(412, 'Security group id is required');
  if (r.direction === '') throw new AlcorHttpError(412, 'Direction is required');
  if (r.port_range_max !== null || r.port_range_min !== null) checkPortRange(r);
  if (r.remote_ip_prefix !== null) {
    const version = IPV4_PREFIX.test(r.remote_ip_prefix) ? 'IPv4' : IPV6_PREFIX.test(r.remote_ip_prefix) ? 'IPv6' : undefined;
    if (!version) throw new AlcorHttpError(412, 'Remote ip prefix invalid');
    if (version !== r.ethertype) throw new AlcorHttpError(409, 'The Ip version of remote_ip_prefix conflict with ether_type');
  }
  // Statuses of the two conflicts below are inferred (CONFLICT, as the prefix one).
  if (r.protocol === 'icmpv6' && r.ethertype === 'IPv4') throw new AlcorHttpError(409, 'Protocol conflict with ether type');
  if (r.remote_group_id !== null && r.remote_ip_prefix !== null) throw new AlcorHttpError(409, 'Remote ip prefix conflict with remote group id');
  if (!givenId) r.id = randomUUID(); // only a missing or null id gets one
}

function checkPortRange(r: SecurityGroupRule): void {
  const { port_range_min: min, port_range_max: max, protocol } = r;
  if (protocol === null) throw new AlcorHttpError(412, 'Protocol invalid');
  const bad = (): never => {
    throw new AlcorHttpError(412, 'Port range invalid');
  };
  if (protocol === 'tcp' || protocol === 'udp') {
    if (min === null || max === null || !(max > 0 && max < 65536) || !(min > 0 && min < 65536) || min > max) bad();
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    if ((min === null) !== (max === null)) bad();
    if ((min !== null && !(min >= 0 && min <= 255)) || (max !== null && !(max >= 0 && max <= 255))) bad();
  }
}

function parseRule(item: unknown, projectId: string): SecurityGroupRule {
  if (!isObject(item)) throw new AlcorHttpError(412, 'Security group rule is required');
  const givenId = readString(item, 'id');
  const rule = readRule(item, projectId);
  checkRule(rule, givenId !== undefined && givenId !== null);
  return rule;
}

function checkRemoteGroup(state: AlcorState, r: SecurityGroupRule): void {
  if (r.remote_group_id !== null && !state.securityGroups.has(r.remote_group_id)) throw new AlcorHttpError(412, 'Can not get remote group');
}

/** `addSecurityGroupRule`: appended to its group (a second time if the id is there), put in the cache. */
function addRule(state: AlcorState, r: SecurityGroupRule): void {
  state.securityGroups.get(r.security_group_id)!.security_group_rules.push(r);
  state.securityGroupRules.set(r.id, r);
}

const unknownGroup = (): AlcorHttpError => new AlcorHttpError(412, 'Security group not found');

export function securityGroupRuleRoutes(state: AlcorState): Route[] {
  return [
    {
      service: 'sg', method: 'POST', pattern: '/project/{project_id}/security-group-rules', body: true,
      handler: ({ params, body }) => {
        const obj = readObject(requestObject(body, 'SecurityGroupRuleJson'), 'security_group_rule');
        if (!obj) throw new AlcorHttpError(412, 'Security group rule is required');
        const rule = parseRule(obj, params.project_id!);
        checkRemoteGroup(state, rule);
        if (!state.securityGroups.has(rule.security_group_id)) throw unknownGroup();
        addRule(state, rule);
        return json(201, { security_group_rule: rule });
      },
    },
    {
      service: 'sg', method: 'POST', pattern: '/project/{project_id}/security-group-rules/bulk', body: true,
      handler: ({ params, body }) => {
        const list = readArray(requestObject(body, 'SecurityGroupRuleBulkJson'), 'security_group_rules');
        if (!list || list.length === 0) throw new AlcorHttpError(412, 'Security group rule is required');
        const rules = list.map((item) => parseRule(item, params.project_id!));
        for (const r of rules) checkRemoteGroup(state, r);
        // One transaction: a rule of an unknown group makes none of them.
        if (rules.some((r) => !state.securityGroups.has(r.security_group_id))) throw unknownGroup();
        for (const r of rules) addRule(state, r);
        return json(201, { security_group_rules: rules });
      },
    },
    {
      service: 'sg', method: 'GET', pattern: '/project/{project_id}/security-group-rules/{security_group_rule_id}',
      handler: ({ params }) => {
        const rule = state.securityGroupRules.get(params.security_group_rule_id!);
        if (!rule) throw new AlcorHttpError(412, 'Security group rule not found');
        return json(200, { security_group_rule: rule });
      },
    },
    {
      // Every project's rules (the project is only checked non-empty), filtered on rule fields.
      service: 'sg', method: 'GET', pattern: '/project/{project_id}/security-group-rules',
      handler: ({ query }) => {
        const keep = queryFilter(query, RULE_KEYS);
        return json(200, { security_group_rules: [...state.securityGroupRules.values()].filter((r) => keep(r as unknown as Record<string, unknown>)) });
      },
    },
    {
      service: 'sg', method: 'DELETE', pattern: '/project/{project_id}/security-group-rules/{security_group_rule_id}',
      handler: ({ params }) => {
        const rule = state.securityGroupRules.get(params.security_group_rule_id!);
        if (!rule) throw new AlcorHttpError(412, 'Security group rule not found');
        // `List.remove`: the first equal entry leaves the group's list (a duplicate stays).
        const rules = state.securityGroups.get(rule.security_group_id)?.security_group_rules;
        const at = rules?.findIndex((r) => r.id === rule.id) ?? -1;
        if (rules && at >= 0) rules.splice(at, 1);
        state.securityGroupRules.delete(rule.id);
        return { status: 200, empty: true };
      },
    },
  ];
}
