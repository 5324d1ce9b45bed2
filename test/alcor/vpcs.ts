// VPC manager (NodePort 30001), Alcor's REST API, docs/alcor.md
import { randomUUID } from 'node:crypto';
import { utcStamp } from './clock.js';
import type { JsonObject, JsonValue, RouteEntity, SegmentInfo, VpcEntity } from './entities.js';
import { AlcorHttpError, NO_MESSAGE } from './errors.js';
import { isObject, readArray, readBool, readInt, readObject, readString, readStringArray, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';
import { queryFilter } from './query-filter.js';

const NETWORK_TYPES = new Set(['vxlan', 'vlan', 'gre', 'flat']);
const STATUSES = new Set(['ACTIVE', 'DOWN', 'BUILD', 'ERROR']);
/** `VPC/config/ConstantsConfig.java` */
const DEFAULT_MTU = 1450;

const invalid = (): AlcorHttpError => new AlcorHttpError(500, 'request resource is invalid');

function readSegments(req: JsonObject): SegmentInfo[] | null {
  const list = readArray(req, 'segments');
  if (!list) return null;
  return list.map((item) => {
    const s = isObject(item) ? item : {};
    return {
      'provider:network_type': readString(s, 'provider:network_type') ?? null,
      'provider:physical_network': readString(s, 'provider:physical_network') ?? null,
      'provider:segmentation_id': readInt(s, 'provider:segmentation_id') ?? null,
    };
  });
}

function createVpc(state: AlcorState, projectId: string, body: unknown): VpcEntity {
  // `resource.getNetwork().getId()` is the controller's first line: no "network" is an NPE → 500.
  const req = readObject(requestObject(body, 'VpcWebRequestJson'), 'network');
  if (!req) throw new AlcorHttpError(500, NO_MESSAGE);

  // VpcManagementUtil.checkVpcRequestResourceIsValid: mtu, provider type, status.
  const mtu = readInt(req, 'mtu') ?? null;
  if (mtu !== null && mtu > 0 && mtu < 68) throw invalid();
  const networkType = readString(req, 'provider:network_type') ?? null;
  const segmentationId = readInt(req, 'provider:segmentation_id') ?? null;
  if (networkType !== null ? !NETWORK_TYPES.has(networkType) : segmentationId !== null) throw invalid();
  const status = readString(req, 'status') ?? null;
  if (status !== null && !STATUSES.has(status)) throw invalid();

  const givenId = readString(req, 'id');
  const id = givenId ? givenId : randomUUID(); // missing or empty → UUID
  const tenant = readString(req, 'tenant_id');
  const cidr = readString(req, 'cidr') ?? null;
  const revision = readInt(req, 'revision_number') ?? null;
  // `is_default` and `default` bind to the same Java field; the later key in the body wins.
  let isDefault = false;
  for (const key of Object.keys(req)) if (key === 'is_default' || key === 'default') isDefault = readBool(req, key) ?? false;
  const now = utcStamp();

  // Side effect 1: the route manager's default route, appended to the VPC's routes.
  const defaultRoute: RouteEntity = {
    id: randomUUID(), project_id: projectId, tenant_id: tenant ? tenant : projectId,
    name: 'default_route_rule', description: '', destination: cidr, target: 'Local', priority: 0,
    associatedType: 'VPC', associatedTableId: randomUUID(),
  };
  const givenRoutes = readArray(req, 'routes');
  const routes = [...(givenRoutes ?? []).filter(isObject).map((r) => r as unknown as RouteEntity), defaultRoute];

  const vpc: VpcEntity = {
    id,
    project_id: projectId, // the path segment always wins
    tenant_id: tenant ? tenant : projectId,
    name: readString(req, 'name') ?? null,
    description: readString(req, 'description') ?? null,
    cidr, // not validated
    routes,
    router: (readObject(req, 'router') ?? null) as JsonValue,
    admin_state_up: readBool(req, 'admin_state_up') ?? false,
    dns_domain: readString(req, 'dns_domain') ?? null,
    mtu: mtu === null || mtu <= 0 ? DEFAULT_MTU : mtu,
    port_security_enabled: readBool(req, 'port_security_enabled') ?? true,
    'provider:network_type': networkType ?? 'vxlan',
    'provider:physical_network': readString(req, 'provider:physical_network') ?? null,
    // Ignored on create: a VNI is allocated (side effect 2).
    'provider:segmentation_id': state.vnis.allocate(),
    'router:external': readBool(req, 'router:external') ?? false,
    segments: readSegments(req),
    shared: readBool(req, 'shared') ?? false,
    vlan_transparent: readBool(req, 'vlan_transparent') ?? false,
    is_default: isDefault,
    availability_zone_hints: readArray(req, 'availability_zone_hints') ?? null,
    availability_zones: readArray(req, 'availability_zones') ?? ['Nova'],
    qos_policy_id: null,
    revision_number: revision === null || revision < 1 ? 1 : revision,
    status: status ?? 'ACTIVE',
    tags: readStringArray(req, 'tags') ?? [],
    created_at: now,
    updated_at: now,
    ipv4_address_scope: readString(req, 'ipv4_address_scope') ?? null,
    ipv6_address_scope: readString(req, 'ipv6_address_scope') ?? null,
    l2_adjacency: readString(req, 'l2_adjacency') ?? null,
    subnets: null,
    default: isDefault,
  };
  // A client-supplied id that exists is overwritten, as the cache `put` does (inferred).
  state.vpcs.set(id, vpc);
  return vpc;
}

/** The VPC as GET by id shows it: `subnets` filled from the separate cache. */
export function vpcWithSubnets(state: AlcorState, vpc: VpcEntity): VpcEntity {
  return { ...structuredClone(vpc), subnets: [...(state.vpcSubnetIds.get(vpc.id) ?? [])] };
}

export function vpcRoutes(state: AlcorState): Route[] {
  return [
    {
      service: 'vpc', method: 'POST', pattern: '/project/{projectid}/vpcs', body: true,
      handler: ({ params, body }) => json(201, { network: createVpc(state, params.projectid!, body) }),
    },
    {
      // Unknown id: 200 {"network":null}, not 404 (quirk 1); subnet and port managers rely on it.
      service: 'vpc', method: 'GET', pattern: '/project/{projectid}/vpcs/{vpcid}',
      handler: ({ params }) => {
        const vpc = state.vpcs.get(params.vpcid!);
        return json(200, { network: vpc ? vpcWithSubnets(state, vpc) : null });
      },
    },
    {
      // All VPCs, whatever the project, filtered by query fields.
      service: 'vpc', method: 'GET', pattern: '/project/{projectId}/vpcs',
      handler: ({ query }) => {
        const keep = queryFilter(query);
        return json(200, { vpcs: [...state.vpcs.values()].filter((v) => keep(v as unknown as Record<string, unknown>)) });
      },
    },
    {
      // [QUIRK 3] The "subnets not empty" check reads a field that is never persisted, so a VPC
      // with subnets is deleted all the same; its VNI is not released.
      service: 'vpc', method: 'DELETE', pattern: '/project/{projectid}/vpcs/{vpcid}',
      handler: ({ params }) => {
        const id = params.vpcid!;
        if (!state.vpcs.delete(id)) return json(200, { id: null });
        state.vpcSubnetIds.delete(id);
        return json(200, { id });
      },
    },
    {
      // Pre-creates the VXLAN/GRE ranges in real Alcor; ranges are lazy here.
      service: 'vpc', method: 'POST', pattern: '/segments/createDefaultTable',
      handler: () => ({ status: 200, empty: true }),
    },
  ];
}
