// The coordinator's calls to Alcor: what a scenario's network is made of (VPCs, subnets, security
// groups, routers and their interfaces) and the hosts, each create with an id chosen from the
// scenario so that a resumed scenario finds what it made (a look-up first, never a second copy),
// and each delete tolerant of what is already gone. Paths, bodies and codes follow
// Alcor's REST API, in the order Merak used, without its bugs.
import { AlcorHttp, type AlcorCall, type AlcorResponse } from '@merak/agent';
import type { AlcorServiceName } from '../scenario/index.js';

export type AlcorEndpoints = Readonly<Record<AlcorServiceName, string>>;

/** The NodePort of each Alcor service (reference §1.1). */
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

const enc = encodeURIComponent;

export class AlcorNetwork {
  private readonly http: AlcorHttp;

  constructor(private readonly ep: AlcorEndpoints, opts: { timeoutMs: number; retries: number; onCall: (c: AlcorCall) => void }) {
    this.http = new AlcorHttp({ timeoutMs: opts.timeoutMs, retries: opts.retries, onCall: opts.onCall });
  }

  private get(service: AlcorServiceName, path: string, template: string, absent: number[] = []): Promise<AlcorResponse> {
    return this.http.call({ method: 'GET', base: this.ep[service], path, template, expect: [200], absent, idempotent: true });
  }

  /** POST once: a create that got no clear answer is not repeated blindly (the caller looks it up). */
  private post(service: AlcorServiceName, path: string, template: string, body: unknown, expect: number[]): Promise<AlcorResponse> {
    return this.http.call({ method: 'POST', base: this.ep[service], path, template, body, expect, idempotent: false });
  }

  private put(service: AlcorServiceName, path: string, template: string, body: unknown): Promise<AlcorResponse> {
    return this.http.call({ method: 'PUT', base: this.ep[service], path, template, body, expect: [200], idempotent: true });
  }

  private del(service: AlcorServiceName, path: string, template: string, absent: number[]): Promise<AlcorResponse> {
    return this.http.call({ method: 'DELETE', base: this.ep[service], path, template, expect: [200], absent, idempotent: true });
  }

  /** Makes the object unless a look-up finds it; repeats the look-up when the create got no clear answer. */
  private async ensure(exists: () => Promise<boolean>, create: () => Promise<unknown>): Promise<'made' | 'found'> {
    if (await exists()) return 'found';
    try {
      await create();
      return 'made';
    } catch (e) {
      if (await exists().catch(() => false)) return 'found';
      throw e;
    }
  }

  // --- nodes (reference §4.5) ---

  /** Registers every host at once (Merak's bulk call; answered 200 with the list). */
  async registerNodes(nodes: readonly NodeInfo[]): Promise<void> {
    await this.post('node', '/nodes/bulk', '/nodes/bulk', { host_infos: nodes }, [200]);
  }

  /** The node's record, or undefined (Alcor answers 200 with null for an unknown id). */
  async getNode(id: string): Promise<unknown> {
    const res = await this.get('node', `/nodes/${enc(id)}`, '/nodes/{node_id}');
    return (res.json as { host_info?: unknown } | undefined)?.host_info ?? undefined;
  }

  /** 'absent' when Alcor had no such node (it answers an unknown id with 500, so it is looked up first). */
  async deleteNode(id: string): Promise<'deleted' | 'absent'> {
    if ((await this.getNode(id)) === undefined) return 'absent';
    await this.del('node', `/nodes/${enc(id)}`, '/nodes/{node_id}', []);
    return 'deleted';
  }

  // --- VPCs (§4.1), subnets (§4.2) ---

  ensureVpc(p: string, body: { id: string; name: string; cidr: string; tenantId: string; mtu: number }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/vpcs`;
    return this.ensure(
      async () => ((await this.get('vpc', `${path}/${enc(body.id)}`, '/project/{project_id}/vpcs/{vpc_id}')).json as { network?: unknown } | undefined)?.network != null,
      () => this.post('vpc', path, '/project/{project_id}/vpcs', {
        network: { id: body.id, name: body.name, cidr: body.cidr, project_id: p, tenant_id: body.tenantId, admin_state_up: true, port_security_enabled: true, mtu: body.mtu, description: 'merak-ts' },
      }, [201]),
    );
  }

  async deleteVpc(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('vpc', `/project/${enc(p)}/vpcs/${enc(id)}`, '/project/{project_id}/vpcs/{vpc_id}', []);
    // An unknown id is answered 200 {"id": null} (reference §8 quirk 1).
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  /** The subnet, or undefined (200 with null for an unknown id). */
  async getSubnet(p: string, id: string): Promise<{ attached_router_id?: string | null } | undefined> {
    const res = await this.get('subnet', `/project/${enc(p)}/subnets/${enc(id)}`, '/project/{project_id}/subnets/{subnet_id}');
    return (res.json as { subnet?: { attached_router_id?: string | null } | null } | undefined)?.subnet ?? undefined;
  }

  ensureSubnet(p: string, body: { id: string; name: string; cidr: string; gateway: string; vpcId: string; tenantId: string }): Promise<'made' | 'found'> {
    return this.ensure(
      async () => (await this.getSubnet(p, body.id)) !== undefined,
      // The gateway is sent (Merak did not, so its VMs' gateway could differ from Alcor's).
      () => this.post('subnet', `/project/${enc(p)}/subnets`, '/project/{project_id}/subnets', {
        subnet: { id: body.id, name: body.name, cidr: body.cidr, gateway_ip: body.gateway, ip_version: 4, network_id: body.vpcId, project_id: p, tenant_id: body.tenantId },
      }, [201]),
    );
  }

  async deleteSubnet(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('subnet', `/project/${enc(p)}/subnets/${enc(id)}`, '/project/{project_id}/subnets/{subnet_id}', []);
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  // --- security groups (§4.3) ---

  ensureSecurityGroup(p: string, body: { id: string; name: string; description: string; tenantId: string; rules: unknown[] }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/security-groups`;
    return this.ensure(
      // An unknown group is answered 412 (reference §4.3).
      async () => !(await this.get('sg', `${path}/${enc(body.id)}`, '/project/{project_id}/security-groups/{security_group_id}', [412])).absent,
      () => this.post('sg', path, '/project/{project_id}/security-groups', {
        security_group: { id: body.id, name: body.name, description: body.description, project_id: p, tenant_id: body.tenantId, security_group_rules: body.rules },
      }, [201]),
    );
  }

  async deleteSecurityGroup(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('sg', `/project/${enc(p)}/security-groups/${enc(id)}`, '/project/{project_id}/security-groups/{security_group_id}', [412]);
    return res.absent ? 'absent' : 'deleted';
  }

  // --- routers (§4.4) ---

  ensureRouter(p: string, body: { id: string; name: string; tenantId: string }): Promise<'made' | 'found'> {
    const path = `/project/${enc(p)}/routers`;
    return this.ensure(
      async () => ((await this.get('route', `${path}/${enc(body.id)}`, '/project/{project_id}/routers/{router_id}')).json as { router?: unknown } | undefined)?.router != null,
      // Router create answers 200, not 201 (reference §8 quirk 2); project and tenant are the scenario's (Merak hard-coded them).
      () => this.post('route', path, '/project/{project_id}/routers', {
        router: { id: body.id, name: body.name, project_id: p, tenant_id: body.tenantId, admin_state_up: true, description: 'merak-ts' },
      }, [200]),
    );
  }

  /** Attaches the subnet unless it is already attached to this router. */
  async attachSubnet(p: string, routerId: string, subnetId: string): Promise<'made' | 'found'> {
    if ((await this.getSubnet(p, subnetId))?.attached_router_id === routerId) return 'found';
    await this.put('route', `/project/${enc(p)}/routers/${enc(routerId)}/add_router_interface`, '/project/{project_id}/routers/{router_id}/add_router_interface', { subnet_id: subnetId });
    return 'made';
  }

  /** Detaches the subnet if it is attached to this router. */
  async detachSubnet(p: string, routerId: string, subnetId: string): Promise<'deleted' | 'absent'> {
    if ((await this.getSubnet(p, subnetId))?.attached_router_id !== routerId) return 'absent';
    await this.put('route', `/project/${enc(p)}/routers/${enc(routerId)}/remove_router_interface`, '/project/{project_id}/routers/{router_id}/remove_router_interface', { subnet_id: subnetId });
    return 'deleted';
  }

  async deleteRouter(p: string, id: string): Promise<'deleted' | 'absent'> {
    const res = await this.del('route', `/project/${enc(p)}/routers/${enc(id)}`, '/project/{project_id}/routers/{router_id}', []);
    return (res.json as { id?: string | null } | undefined)?.id ? 'deleted' : 'absent';
  }

  // --- ports (§4.6): the agents make and delete them; the coordinator only sweeps what is left ---

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
