// Subnet manager (NodePort 30002), Alcor's REST API, docs/alcor.md Creating a subnet makes
// its IPM range [network+1, broadcast-1] and a real gateway port in PM that holds the gateway IP
// (network+1 unless given) and a MAC, so the first VM port of a /24 gets .2.
import { randomUUID } from 'node:crypto';
import { broadcastOf, formatIpv4, networkOf, parseIpv4 } from '@merak/common';
import { utcStamp } from './clock.js';
import type { AllocationPool, JsonObject, JsonValue, SubnetEntity } from './entities.js';
import { AlcorHttpError } from './errors.js';
import { Ipv4Range } from './ip-allocator.js';
import { GATEWAY_OWNER, createPorts, deletePort } from './ports.js';
import { queryFilter } from './query-filter.js';
import { isObject, readArray, readBool, readInt, readObject, readString, readStringArray, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';

interface Cidr { readonly network: number; readonly prefix: number; readonly broadcast: number }

/** `SubnetServiceImp.verifyCidrBlock`: valid octets and a prefix length of 16–28. */
function parseSubnetCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 16 && prefix <= 28)) return undefined;
  return { network: networkOf(ip, prefix), prefix, broadcast: broadcastOf(ip, prefix) };
}

/** Any prefix length, for the VPC's CIDR (which Alcor does not validate). */
function parseAnyCidr(text: string | null): Cidr | undefined {
  const m = text === null ? null : /^([^/]+)\/(\d{1,2})$/.exec(text);
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  return { network: networkOf(ip, prefix), prefix, broadcast: broadcastOf(ip, prefix) };
}

const nullableArray = (req: JsonObject, key: string): JsonValue[] => readArray(req, key) ?? [];

function readPools(req: JsonObject, first: string, last: string): AllocationPool[] {
  const pools = readArray(req, 'allocation_pools');
  if (!pools || pools.length === 0) return [{ start: first, end: last }]; // informational only
  return pools.map((p) => {
    const o = isObject(p) ? p : {};
    return { start: readString(o, 'start') ?? first, end: readString(o, 'end') ?? last };
  });
}

async function createSubnet(state: AlcorState, projectId: string, body: unknown): Promise<SubnetEntity> {
  const req = readObject(requestObject(body, 'SubnetWebRequestJson'), 'subnet');
  const invalid = new AlcorHttpError(500, 'request resource is invalid');
  if (!req) throw invalid;
  const vpcId = readString(req, 'network_id');
  const cidrText = readString(req, 'cidr');
  if (!vpcId || !cidrText) throw invalid;

  // 1. The VPC (a GET answering {"network":null} fails the fallback) and the CIDR checks.
  const vpc = state.vpcs.get(vpcId);
  if (!vpc) throw new AlcorHttpError(500, 'fallback request');
  const cidr = parseSubnetCidr(cidrText);
  if (!cidr) throw new AlcorHttpError(500, `cidr is invalid : ${cidrText}`);
  const vpcCidr = parseAnyCidr(vpc.cidr);
  if (vpcCidr && (cidr.network < vpcCidr.network || cidr.broadcast > vpcCidr.broadcast)) {
    throw new AlcorHttpError(500, 'cidr is not within network cidr');
  }
  for (const id of state.vpcSubnetIds.get(vpcId) ?? []) {
    const other = state.subnets.get(id);
    const o = other ? parseSubnetCidr(other.cidr) : undefined;
    if (o && cidr.network <= o.broadcast && o.network <= cidr.broadcast) {
      throw new AlcorHttpError(500, 'cidr overlap with other subnets in the same network');
    }
  }
  const first = cidr.network + 1;
  const last = cidr.broadcast - 1;
  const gatewayGiven = readString(req, 'gateway_ip');
  let gateway = first; // omitted, null or "" → network+1 (SubnetManagementUtil.adjustGatewayIpValue)
  if (gatewayGiven) {
    const g = parseIpv4(gatewayGiven);
    if (g === undefined || g < first || g > last) throw new AlcorHttpError(500, 'GatewayIp is unsupported');
    gateway = g;
  }

  const givenId = readString(req, 'id');
  const id = givenId ? givenId : randomUUID();
  const tenant = readString(req, 'tenant_id');
  const revision = readInt(req, 'revision_number') ?? null;
  const now = utcStamp();
  const ipVersion = readInt(req, 'ip_version') ?? 4;

  // 2.–4. IPM range, the subnet, then the gateway port through PM's own create.
  const range = new Ipv4Range(randomUUID(), id, vpcId, first, last);
  state.ranges.set(id, range);
  const subnet: SubnetEntity = {
    id,
    project_id: projectId,
    tenant_id: tenant ? tenant : projectId,
    name: readString(req, 'name') ?? null,
    description: readString(req, 'description') ?? null,
    network_id: vpcId,
    cidr: cidrText,
    availability_zone: readString(req, 'availability_zone') ?? null,
    gateway_ip: formatIpv4(gateway),
    gatewayPortId: '',
    gateway_port_detail: { gateway_macAddress: '', gateway_port_id: '' },
    attached_router_id: readString(req, 'attached_router_id') ?? null,
    port_detail: null,
    enable_dhcp: readBool(req, 'enable_dhcp') ?? true,
    primary_dns: readString(req, 'primary_dns') ?? null,
    secondary_dns: readString(req, 'secondary_dns') ?? null,
    dns_list: readArray(req, 'dns_list') ?? null,
    ip_version: ipVersion === 6 ? 6 : 4, // set to 4 for an IPv4 gateway
    ipV4_rangeId: range.id,
    ipV6_rangeId: null,
    ipv6_address_mode: readString(req, 'ipv6_address_mode') ?? null,
    ipv6_ra_mode: readString(req, 'ipv6_ra_mode') ?? null,
    revision_number: revision === null || revision < 1 ? 1 : revision,
    segment_id: readString(req, 'segment_id') ?? null,
    shared: readBool(req, 'shared') ?? null,
    sort_dir: null,
    sort_key: null,
    subnetpool_id: readString(req, 'subnetpool_id') ?? null,
    dns_publish_fixed_ip: readBool(req, 'dns_publish_fixed_ip') ?? null,
    tags: readStringArray(req, 'tags') ?? [],
    'tags-any': null,
    'not-tags': null,
    'not-tags-any': null,
    fields: null,
    dns_nameservers: nullableArray(req, 'dns_nameservers'),
    allocation_pools: readPools(req, formatIpv4(first), formatIpv4(last)),
    host_routes: nullableArray(req, 'host_routes'),
    prefixlen: null,
    use_default_subnet_pool: readBool(req, 'use_default_subnet_pool') ?? null,
    service_types: nullableArray(req, 'service_types'),
    created_at: now,
    updated_at: now,
  };
  state.subnets.set(id, subnet);
  let gatewayPortId: string;
  try {
    const [port] = await createPorts(state, projectId, [{
      id: randomUUID(), network_id: vpcId, device_owner: GATEWAY_OWNER,
      fixed_ips: [{ subnet_id: id, ip_address: formatIpv4(gateway) }],
    }], false);
    gatewayPortId = port!.id!;
    subnet.gatewayPortId = gatewayPortId;
    subnet.gateway_port_detail = { gateway_macAddress: port!.mac_address!, gateway_port_id: gatewayPortId };
  } catch (e) {
    state.subnets.delete(id);
    state.ranges.delete(id);
    throw e;
  }
  // 5.–6. The subnet id into the VPC's cache; the route manager's table for the subnet.
  const ids = state.vpcSubnetIds.get(vpcId) ?? [];
  if (!ids.includes(id)) ids.push(id);
  state.vpcSubnetIds.set(vpcId, ids);
  state.subnetRouteTables.set(id, {
    id: randomUUID(), project_id: projectId, tenant_id: subnet.tenant_id, name: null, description: null,
    routes: [], route_table_type: 'neutron_subnet', owner: id,
  });
  return subnet;
}

async function deleteSubnet(state: AlcorState, projectId: string, id: string): Promise<string | null> {
  const subnet = state.subnets.get(id);
  if (!subnet) return null; // 200 {"id":null} (quirk 1)
  if (state.subnetPortCount(id) > 0) throw new AlcorHttpError(409, 'There is some ports in the subnet, we can Not delete subnet');
  if (subnet.attached_router_id) throw new AlcorHttpError(409, 'Subnet bind routes, we can Not delete subnet');
  state.subnetRouteTables.delete(id);
  await deletePort(state, projectId, subnet.gatewayPortId); // a missing one is ignored
  const ids = state.vpcSubnetIds.get(subnet.network_id);
  if (ids) state.vpcSubnetIds.set(subnet.network_id, ids.filter((s) => s !== id));
  state.ranges.delete(id);
  state.subnets.delete(id);
  return id;
}

export function subnetRoutes(state: AlcorState): Route[] {
  const getOne = (id: string) => json(200, { subnet: state.subnets.get(id) ?? null }); // unknown: null (quirk 1)
  const list = (query: URLSearchParams) => {
    const keep = queryFilter(query);
    return json(200, { subnets: [...state.subnets.values()].filter((s) => keep(s as unknown as Record<string, unknown>)) });
  };
  return [
    {
      service: 'subnet', method: 'POST', pattern: '/project/{projectId}/subnets', body: true,
      handler: async ({ params, body }) => json(201, { subnet: await createSubnet(state, params.projectId!, body) }),
    },
    { service: 'subnet', method: 'GET', pattern: '/project/{projectId}/subnets/{subnetId}', handler: ({ params }) => getOne(params.subnetId!) },
    { service: 'subnet', method: 'GET', pattern: '/subnets/{subnetId}', handler: ({ params }) => getOne(params.subnetId!) },
    { service: 'subnet', method: 'GET', pattern: '/project/{projectId}/subnets', handler: ({ query }) => list(query) },
    { service: 'subnet', method: 'GET', pattern: '/subnets', handler: ({ query }) => list(query) },
    {
      service: 'subnet', method: 'DELETE', pattern: '/project/{projectId}/subnets/{subnetId}',
      handler: async ({ params }) => json(200, { id: await deleteSubnet(state, params.projectId!, params.subnetId!) }),
    },
  ];
}
