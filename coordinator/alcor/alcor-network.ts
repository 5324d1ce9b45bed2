// The coordinator's calls to Alcor: what a scenario's network is made of (VPCs, subnets, security
// groups and their rules, routers and their interfaces) and the hosts, each create with an id
// chosen from the scenario so that a resumed scenario finds what it made (a look-up first, never a
// second copy), and each delete tolerant of what is already gone. Transient failures (no answer,
// 5xx) are retried with bounded backoff: reads and deletes as they are, creates and router
// interface changes only after a look-up says the first attempt did not land (createOrAdopt).
// Paths, bodies and codes follow Alcor's REST API, in the order Merak used, without its bugs.
import { AlcorHttp, type AlcorCall, type AlcorResponse, type RetryEvent, createOrAdopt } from '@merak/common';
import type { AlcorServiceName } from '../scenario/index.js';

export type AlcorEndpoints = Readonly<Record<AlcorServiceName, string>>;

/** The NodePort of each Alcor service. */
export const ALCOR_NODE_PORTS: Readonly<Record<AlcorServiceName, number>> = { vpc: 30001, subnet: 30002, route: 30003, port: 30006, node: 30007, sg: 30008 };

/** Each service's base URL: the scenario's own, else `url` with the service's NodePort. */
export function alcorEndpoints(url: string | undefined, given: Partial<Record<AlcorServiceName, string>>): AlcorEndpoints | string {
  const out: Partial<Record<AlcorServiceName, string>> = {};
  for (const s of Object.keys(ALCOR_NODE_PORTS) as AlcorServiceName[]) {
    if (given[s]) out[s] = given[s];
    else if (url) {
      const u = new URL(url);
      u.port = String(ALCOR_NODE_PORTS[s]);
      out[s] = u.toString().replace(/\/+$/, '');
    } else return `alcor.url: not given, and alcor.endpoints has no ${s} (nor has the coordinator an --alcor-url)`;
  }
  return out as AlcorEndpoints;
}

export interface NodeInfo {
  readonly node_id: string;
  readonly node_name: string;
  readonly local_ip: string;
  readonly 'data-path-ip': string;
  readonly mac_address: string;
  readonly veth: string;
  readonly server_port: number;
}

/** A security group rule as Alcor's rules API takes it. */
export interface SecurityGroupRuleBody {
  readonly id: string;
  readonly security_group_id: string;
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  readonly protocol: string | null;
  readonly port_range_min: number | null;
  readonly port_range_max: number | null;
  readonly remote_ip_prefix: string | null;
  readonly remote_group_id: string | null;
  readonly tenant_id: string;
  readonly project_id: string;
}

export interface AlcorNetworkOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  /** Every call, retries included (marked). */
  readonly onCall: (c: AlcorCall) => void;
  /** Each retry, before its backoff. */
  readonly onRetry?: (r: RetryEvent) => void;
}

const enc = encodeURIComponent;
const RULES = '/project/{project_id}/security-group-rules';

export class AlcorNetwork {
  private readonly http: AlcorHttp;
  private readonly timeoutMs: number;

  constructor(private readonly ep: AlcorEndpoints, opts: AlcorNetworkOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.http = new AlcorHttp({ timeoutMs: opts.timeoutMs, retries: opts.retries, onCall: opts.onCall, ...(opts.onRetry ? { onRetry: opts.onRetry } : {}) });
  }

  private get(service: AlcorServiceName, path: string, template: string, absent: number[] = []): Promise<AlcorResponse> {
    return this.http.call({ method: 'GET', base: this.ep[service], path, template, expect: [200], absent, idempotent: true });
  }

  /** One POST; repeats are its caller's (a look-up comes first). */
  private post(service: AlcorServiceName, path: string, template: string, body: unknown, expect: number[], retry: boolean): Promise<AlcorResponse> {
    return this.http.call({ method: 'POST', base: this.ep[service], path, template, body, expect, idempotent: false, retry });
  }

  private put(service: AlcorServiceName, path: string, template: string, body: unknown, retry: boolean): Promise<AlcorResponse> {
    return this.http.call({ method: 'PUT', base: this.ep[service], path, template, body, expect: [200], idempotent: false, retry });
  }

  private del(service: AlcorServiceName, path: string, template: string, absent: number[]): Promise<AlcorResponse> {
    return this.http.call({ method: 'DELETE', base: this.ep[service], path, template, expect: [200], absent, idempotent: true });
  }

  /**
   * Brings about what `done` checks, unless it already holds: `act` is sent, and after any failure
   * `done` is asked again before `act` is repeated (transient failures only, with backoff).
   */
  private async ensure(endpoint: string, done: () => Promise<boolean>, act: (retry: boolean) => Promise<unknown>): Promise<'made' | 'found'> {
    if (await done()) return 'found';
    const { how } = await createOrAdopt({
      endpoint, http: this.http, settleMs: this.timeoutMs,
      lookup: async () => ((await done()) ? true : undefined),
      create: async (retry) => {
        await act(retry);
        return true;
      },
    });
    return how;
  }

  // --- nodes ---

  /** Registers every host at once (Merak's bulk call; answered 200 with the list). An upsert, so repeated as is. */
  async registerNodes(nodes: readonly NodeInfo[]): Promise<void> {
    await this.http.call({ method: 'POST', base: this.ep.node, path: '/nodes/bulk', template: '/nodes/bulk', body: { host_infos: nodes }, expect: [200], idempotent: true });
  }

  /** The node's record, or undefined (Alcor answers 200 with null for an unknown id). */
  async getNode(id: string): Promise<unknown> {
    const res = await this.get('node', `/nodes/${enc(id)}`, '/nodes/{node_id}');
    return (res.json as { host_info?: unknown } | undefined)?.host_info ?? undefined;
  }

  /**
   * 'absent' when Alcor had no such node. It answers an unknown id with 500, so the node is looked
   * up first and again after a failure (a delete that landed but lost its answer is done).
   */
  async deleteNode(id: string): Promise<'deleted' | 'absent'> {
    const how = await this.ensure('DELETE /nodes/{node_id}', async () => (await this.getNode(id)) === undefined,
      () => this.http.call({ method: 'DELETE', base: this.ep.node, path: `/nodes/${enc(id)}`, template: '/nodes/{node_id}', expect: [200], idempotent: false }));
    return how === 'made' ? 'deleted' : 'absent';
  }

  // --- VPCs, subnets ---

  ensureVpc(p: string, body: { id: string; name: string; cidr: string; tenantId: string; mtu: number }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/vpcs`;
    return this.ensure('POST /project/{project_id}/vpcs',
      async () => ((await this.get('vpc', `${path}/${enc(body.id)}`, '/project/{project_id}/vpcs/{vpc_id}')).json as { network?: unknown } | undefined)?.network != null,
      (retry) => this.post('vpc', path, '/project/{project_id}/vpcs', {
        network: { id: body.id, name: body.name, cidr: body.cidr, project_id: p, tenant_id: body.tenantId, admin_state_up: true, port_security_enabled: true, mtu: body.mtu, description: 'merak-ts' },
      }, [201], retry),
    );
  }

  async deleteVpc(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('vpc', `/project/${enc(p)}/vpcs/${enc(id)}`, '/project/{project_id}/vpcs/{vpc_id}', []);
    // An unknown id is answered 200 {"id": null} (an Alcor quirk, docs/alcor.md).
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  /** The subnet, or undefined (200 with null for an unknown id). */
  async getSubnet(p: string, id: string): Promise<{ attached_router_id?: string | null } | undefined> {
    const res = await this.get('subnet', `/project/${enc(p)}/subnets/${enc(id)}`, '/project/{project_id}/subnets/{subnet_id}');
    return (res.json as { subnet?: { attached_router_id?: string | null } | null } | undefined)?.subnet ?? undefined;
  }

  ensureSubnet(p: string, body: { id: string; name: string; cidr: string; gateway: string; vpcId: string; tenantId: string }): Promise<'made' | 'found'> {
    return this.ensure('POST /project/{project_id}/subnets',
      async () => (await this.getSubnet(p, body.id)) !== undefined,
      // The gateway is sent (Merak did not, so its VMs' gateway could differ from Alcor's).
      (retry) => this.post('subnet', `/project/${enc(p)}/subnets`, '/project/{project_id}/subnets', {
        subnet: { id: body.id, name: body.name, cidr: body.cidr, gateway_ip: body.gateway, ip_version: 4, network_id: body.vpcId, project_id: p, tenant_id: body.tenantId },
      }, [201], retry),
    );
  }

  async deleteSubnet(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('subnet', `/project/${enc(p)}/subnets/${enc(id)}`, '/project/{project_id}/subnets/{subnet_id}', []);
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  // --- security groups ---

  /** The group without rules: Alcor ignores rules sent with it (quirk 4); they go through the rules API. */
  ensureSecurityGroup(p: string, body: { id: string; name: string; description: string; tenantId: string }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/security-groups`;
    return this.ensure('POST /project/{project_id}/security-groups',
      // An unknown group is answered 412.
      async () => !(await this.get('sg', `${path}/${enc(body.id)}`, '/project/{project_id}/security-groups/{security_group_id}', [412])).absent,
      (retry) => this.post('sg', path, '/project/{project_id}/security-groups', {
        security_group: { id: body.id, name: body.name, description: body.description, project_id: p, tenant_id: body.tenantId },
      }, [201], retry),
    );
  }

  /** The ids of the group's rules as Alcor has them (its list filters on any rule field). */
  async ruleIdsOf(p: string, groupId: string): Promise<Set<string>> {
    const res = await this.get('sg', `/project/${enc(p)}/security-group-rules?security_group_id=${enc(groupId)}`, RULES);
    const rules = (res.json as { security_group_rules?: Array<{ id?: string; security_group_id?: string }> } | undefined)?.security_group_rules ?? [];
    return new Set(rules.filter((r) => r.security_group_id === groupId && r.id).map((r) => r.id!));
  }

  /**
   * Adds the rules the group lacks, in one bulk call (one rule: the single create). Alcor appends
   * a rule whose id it has already to the group a second time, so only the missing ones are sent,
   * and after a failure the group is listed again before anything is repeated.
   */
  async ensureSecurityGroupRules(p: string, groupId: string, rules: readonly SecurityGroupRuleBody[]): Promise<'made' | 'found'> {
    let have = await this.ruleIdsOf(p, groupId);
    const missing = (): SecurityGroupRuleBody[] => rules.filter((r) => !have.has(r.id));
    const one = missing().length === 1;
    return this.ensure(`POST ${RULES}${one ? '' : '/bulk'}`,
      async () => {
        have = await this.ruleIdsOf(p, groupId);
        return missing().length === 0;
      },
      (retry) => {
        const todo = missing();
        return todo.length === 1
          ? this.post('sg', `/project/${enc(p)}/security-group-rules`, RULES, { security_group_rule: todo[0] }, [201], retry)
          : this.post('sg', `/project/${enc(p)}/security-group-rules/bulk`, `${RULES}/bulk`, { security_group_rules: todo }, [201], retry);
      },
    );
  }

  /** Deletes a rule; 'absent' when Alcor had none with that id (it answers 412). */
  async deleteSecurityGroupRule(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('sg', `/project/${enc(p)}/security-group-rules/${enc(id)}`, `${RULES}/{security_group_rule_id}`, [412]);
    return res.absent ? 'absent' : 'deleted';
  }

  async deleteSecurityGroup(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('sg', `/project/${enc(p)}/security-groups/${enc(id)}`, '/project/{project_id}/security-groups/{security_group_id}', [412]);
    return res.absent ? 'absent' : 'deleted';
  }

  // --- routers ---

  ensureRouter(p: string, body: { id: string; name: string; tenantId: string }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/routers`;
    return this.ensure('POST /project/{project_id}/routers',
      async () => ((await this.get('route', `${path}/${enc(body.id)}`, '/project/{project_id}/routers/{router_id}')).json as { router?: unknown } | undefined)?.router != null,
      // Router create answers 200, not 201 (an Alcor quirk, docs/alcor.md); project and tenant are the scenario's (Merak hard-coded them).
      (retry) => this.post('route', path, '/project/{project_id}/routers', {
        router: { id: body.id, name: body.name, project_id: p, tenant_id: body.tenantId, admin_state_up: true, description: 'merak-ts' },
      }, [200], retry),
    );
  }

  /** Attaches the subnet unless it is already attached to this router (a repeated attach is a 409: looked up instead). */
  attachSubnet(p: string, routerId: string, subnetId: string): Promise<'made' | 'found'> {
    const template = '/project/{project_id}/routers/{router_id}/add_router_interface';
    return this.ensure(`PUT ${template}`, async () => (await this.getSubnet(p, subnetId))?.attached_router_id === routerId,
      (retry) => this.put('route', `/project/${enc(p)}/routers/${enc(routerId)}/add_router_interface`, template, { subnet_id: subnetId }, retry));
  }

  /** Detaches the subnet if it is attached to this router. */
  async detachSubnet(p: string, routerId: string, subnetId: string): Promise<'deleted' | 'absent'> {
    const template = '/project/{project_id}/routers/{router_id}/remove_router_interface';
    const how = await this.ensure(`PUT ${template}`, async () => (await this.getSubnet(p, subnetId))?.attached_router_id !== routerId,
      (retry) => this.put('route', `/project/${enc(p)}/routers/${enc(routerId)}/remove_router_interface`, template, { subnet_id: subnetId }, retry));
    return how === 'made' ? 'deleted' : 'absent';
  }

  async deleteRouter(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('route', `/project/${enc(p)}/routers/${enc(id)}`, '/project/{project_id}/routers/{router_id}', []);
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  // --- ports: the agents make and delete them; the coordinator only sweeps what is left ---

  /** Ports of the project whose device_id is one of `deviceIds` (Alcor lists every project's: filtered here). */
  async portsOf(p: string, deviceIds: ReadonlySet<string>): Promise<Array<{ id: string; device_id: string }>> {
    const res = await this.get('port', `/project/${enc(p)}/ports`, '/project/{project_id}/ports');
    const ports = ((res.json as { ports?: Array<{ id?: string; device_id?: string; project_id?: string }> } | undefined)?.ports ?? []);
    return ports.filter((x) => x.project_id === p && x.id && x.device_id && deviceIds.has(x.device_id)).map((x) => ({ id: x.id!, device_id: x.device_id! }));
  }

  async deletePort(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('port', `/project/${enc(p)}/ports/${enc(id)}`, '/project/{project_id}/ports/{port_id}', [404]);
    return res.absent ? 'absent' : 'deleted';
  }
}
