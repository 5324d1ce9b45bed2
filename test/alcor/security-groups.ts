// Security group manager (NodePort 30008), Alcor's REST API, docs/alcor.md It runs Spring Boot 2.3,
// so its error bodies carry `"message":""` (errors.ts); the reasons below are still what Alcor
// throws, and they show in this server's logs. A group's rules live twice, as in Alcor's
// repository: in the group's list and in the rule cache the rules API reads
// (security-group-rules.ts); a group's create and delete write both.
import { randomUUID } from 'node:crypto';
import { localStamp } from './clock.js';
import type { SecurityGroup, SecurityGroupRule } from './entities.js';
import { AlcorHttpError } from './errors.js';
import { readObject, readString, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';

const DEFAULT_NAME = 'default';

function defaultRules(sg: SecurityGroup, direction: 'ingress' | 'egress'): SecurityGroupRule[] {
  return (['IPv4', 'IPv6'] as const).map((ethertype) => ({
    id: randomUUID(), project_id: null, tenant_id: sg.tenant_id, name: null, description: null,
    security_group_id: sg.id, remote_group_id: null, direction, remote_ip_prefix: null, protocol: null,
    port_range_max: null, port_range_min: null, ethertype,
  }));
}

/** `addSecurityGroup`: the group and its rules, into both caches. */
function putGroup(state: AlcorState, sg: SecurityGroup): void {
  for (const r of sg.security_group_rules) state.securityGroupRules.set(r.id, r);
  state.securityGroups.set(sg.id, sg);
}

function newDefaultSg(state: AlcorState, tenantId: string, projectId: string, description: string | null): SecurityGroup {
  const now = localStamp();
  const sg: SecurityGroup = {
    id: randomUUID(), project_id: projectId, tenant_id: tenantId, name: DEFAULT_NAME, description,
    security_group_rules: [], create_at: now, update_at: now,
  };
  sg.security_group_rules = defaultRules(sg, 'ingress');
  putGroup(state, sg);
  state.defaultSgByTenant.set(tenantId, sg.id);
  return sg;
}

/**
 * The tenant's `default` SG, created on first use (quirk 4): by SG create, and by PM for a port
 * without `security_groups` (`GET …/security-groups/default/{tenant_id}`).
 */
export function ensureDefaultSecurityGroup(state: AlcorState, tenantId: string, projectId: string): SecurityGroup {
  const id = state.defaultSgByTenant.get(tenantId);
  const existing = id === undefined ? undefined : state.securityGroups.get(id);
  return existing ?? newDefaultSg(state, tenantId, projectId, null);
}

function createSecurityGroup(state: AlcorState, projectId: string, body: unknown): SecurityGroup {
  const req = readObject(requestObject(body, 'SecurityGroupJson'), 'security_group');
  if (!req) throw new AlcorHttpError(412, 'Security group is required');
  const tenantGiven = readString(req, 'tenant_id');
  const tenantId = tenantGiven ? tenantGiven : projectId; // checkOrAssignTenantId: empty → project
  const name = readString(req, 'name') ?? null;
  const description = readString(req, 'description') ?? null;
  const hasDefault = state.defaultSgByTenant.has(tenantId);
  if (name === DEFAULT_NAME) {
    if (hasDefault) throw new AlcorHttpError(412, 'Default security group exists');
    // Alcor echoes the request in this case; answering with the stored default SG is the useful
    // reading of the same outcome (inferred).
    return newDefaultSg(state, tenantId, projectId, description);
  }
  if (!hasDefault) newDefaultSg(state, tenantId, projectId, null);
  const givenId = readString(req, 'id');
  const now = localStamp();
  const sg: SecurityGroup = {
    id: givenId ?? randomUUID(), // only null gets a UUID; "" is kept
    project_id: projectId,
    tenant_id: tenantId,
    name,
    description,
    security_group_rules: [],
    create_at: now,
    update_at: now,
  };
  // [QUIRK 4] The client's rules are discarded: always the 2 egress rules.
  sg.security_group_rules = defaultRules(sg, 'egress');
  putGroup(state, sg);
  return sg;
}

export function securityGroupRoutes(state: AlcorState): Route[] {
  return [
    {
      service: 'sg', method: 'POST', pattern: '/project/{project_id}/security-groups', body: true,
      handler: ({ params, body }) => json(201, { security_group: createSecurityGroup(state, params.project_id!, body) }),
    },
    {
      service: 'sg', method: 'GET', pattern: '/project/{project_id}/security-groups/{security_group_id}',
      handler: ({ params }) => {
        const sg = state.securityGroups.get(params.security_group_id!);
        if (!sg) throw new AlcorHttpError(412, 'Security group not found');
        return json(200, { security_group: sg });
      },
    },
    {
      // The tenants' default SGs are hidden from the list.
      service: 'sg', method: 'GET', pattern: '/project/{project_id}/security-groups',
      handler: () => {
        const defaults = new Set(state.defaultSgByTenant.values());
        return json(200, { security_groups: [...state.securityGroups.values()].filter((sg) => !defaults.has(sg.id)) });
      },
    },
    {
      service: 'sg', method: 'GET', pattern: '/project/{project_id}/security-groups/default/{tenant_id}',
      handler: ({ params }) => json(200, { security_group: ensureDefaultSecurityGroup(state, params.tenant_id!, params.project_id!) }),
    },
    {
      service: 'sg', method: 'DELETE', pattern: '/project/{project_id}/security-groups/{security_group_id}',
      handler: ({ params }) => {
        const id = params.security_group_id!;
        const sg = state.securityGroups.get(id);
        if (!sg) throw new AlcorHttpError(412, 'Security group is required'); // sic
        if ((state.sgBindings.get(id)?.size ?? 0) > 0) throw new AlcorHttpError(403, 'Security group are bound by other resources');
        // `deleteSecurityGroup`: the group's rules leave the rule cache with it.
        for (const r of sg.security_group_rules) state.securityGroupRules.delete(r.id);
        state.securityGroups.delete(id);
        state.sgBindings.delete(id);
        if (state.defaultSgByTenant.get(sg.tenant_id) === id) state.defaultSgByTenant.delete(sg.tenant_id);
        return { status: 200, empty: true };
      },
    },
  ];
}
