// Route manager, Neutron routers (NodePort 30003), Alcor's REST API, docs/alcor.md Attaching a
// subnet marks it (`attached_router_id`) and its gateway port (device_id/device_owner), which is
// why subnet and router deletes answer 409 until the interface is removed again.
import { randomUUID } from 'node:crypto';
import type { JsonObject, JsonValue, RouteTable, RouterEntity, RouterInterfaceResponse, SubnetEntity } from './entities.js';
import { AlcorHttpError } from './errors.js';
import { GATEWAY_OWNER } from './ports.js';
import { isObject, readArray, readBool, readInt, readObject, readString, readStringArray, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';

const STATUSES = new Set(['ACTIVE', 'DOWN', 'BUILD', 'ERROR']);

const NO_INTERFACE: RouterInterfaceResponse = {
  id: null, network_id: null, port_id: null, subnet_id: null, subnet_ids: null, project_id: null, tenant_id: null, tags: null,
};

function readRouteTable(req: JsonObject, routerId: string): RouteTable {
  const t = readObject(req, 'routetable');
  const routes = t ? readArray(t, 'routes') : undefined;
  // A null table, or one without routes, is replaced by a fresh neutron_router table.
  if (!t || !routes) {
    return { id: randomUUID(), project_id: null, tenant_id: null, name: null, description: null, routes: [], route_table_type: 'neutron_router', owner: routerId };
  }
  return {
    id: readString(t, 'id') || randomUUID(), project_id: readString(t, 'project_id') ?? null, tenant_id: readString(t, 'tenant_id') ?? null,
    name: readString(t, 'name') ?? null, description: readString(t, 'description') ?? null, routes,
    route_table_type: readString(t, 'route_table_type') ?? 'neutron_router', owner: readString(t, 'owner') ?? routerId,
  };
}

function createRouter(state: AlcorState, projectId: string, body: unknown): RouterEntity {
  const req = readObject(requestObject(body, 'NeutronRouterWebJson'), 'router');
  if (!req) throw new AlcorHttpError(500, 'request resource is invalid');
  const status = readString(req, 'status') ?? null;
  if (status !== null && !STATUSES.has(status)) throw new AlcorHttpError(500, 'request resource is invalid');
  const givenId = readString(req, 'id');
  const id = givenId ? givenId : randomUUID();
  const tenant = readString(req, 'tenant_id');
  const revision = readInt(req, 'revision_number') ?? null;
  const router: RouterEntity = {
    id,
    project_id: projectId,
    tenant_id: tenant ? tenant : projectId,
    name: readString(req, 'name') ?? null,
    description: readString(req, 'description') ?? null,
    routetable: readRouteTable(req, id),
    owner: readString(req, 'owner') ?? null,
    gateway_ports: readStringArray(req, 'gateway_ports') ?? null,
    admin_state_up: readBool(req, 'admin_state_up') ?? null,
    status: 'ACTIVE', // validated, then always stored as ACTIVE
    external_gateway_info: (readObject(req, 'external_gateway_info') ?? null) as JsonValue,
    revision_number: revision === null || revision < 1 ? 1 : revision,
    distributed: readBool(req, 'distributed') ?? null,
    ha: readBool(req, 'ha') ?? null,
    availability_zone_hints: readArray(req, 'availability_zone_hints') ?? null,
    availability_zones: ['Nova'],
    service_type_id: readString(req, 'service_type_id') ?? null,
    flavor_id: readString(req, 'flavor_id') ?? null,
    tags: readArray(req, 'tags') ?? null,
    conntrack_helpers: readArray(req, 'conntrack_helpers') ?? null,
  };
  state.routers.set(id, router);
  return router;
}

/** The request's subnet: by `subnet_id`, or the subnet whose gateway port is `port_id`. */
function interfaceSubnet(state: AlcorState, body: unknown): SubnetEntity | undefined {
  const req = requestObject(body, 'RouterInterfaceRequest');
  const subnetId = readString(req, 'subnet_id') ?? null;
  const portId = readString(req, 'port_id') ?? null;
  if (subnetId !== null && portId !== null) throw new AlcorHttpError(400, 'request body specify both subnet ID and portID');
  if (subnetId !== null) return state.subnets.get(subnetId);
  if (portId !== null) return [...state.subnets.values()].find((s) => s.gatewayPortId === portId);
  return undefined;
}

function interfaceResponse(router: RouterEntity, subnet: SubnetEntity): RouterInterfaceResponse {
  return {
    id: router.id, network_id: subnet.network_id, port_id: subnet.gatewayPortId, subnet_id: subnet.id,
    subnet_ids: [subnet.id], project_id: subnet.project_id, tenant_id: subnet.project_id, tags: subnet.tags,
  };
}

function addInterface(state: AlcorState, routerId: string, body: unknown): RouterInterfaceResponse {
  const subnet = interfaceSubnet(state, body);
  // Alcor updates the subnet before it looks the router up; checking first keeps a failed call
  // from leaving the subnet half-attached.
  const router = state.routers.get(routerId);
  if (!router) throw new AlcorHttpError(500, 'can not find router by router id');
  if (!subnet) return NO_INTERFACE; // 200 with every field null
  if (subnet.attached_router_id) throw new AlcorHttpError(409, 'the port is already in use by other router');
  if (router.owner && router.owner !== subnet.network_id) {
    throw new AlcorHttpError(409, 'the router cannot attached interfaces from different VPC/Network');
  }
  subnet.attached_router_id = router.id;
  const gw = state.ports.get(subnet.gatewayPortId);
  if (gw) {
    gw.device_id = router.id;
    gw.device_owner = GATEWAY_OWNER;
  }
  router.gateway_ports = [...(router.gateway_ports ?? []), subnet.gatewayPortId];
  if (!router.owner) router.owner = subnet.network_id;
  return interfaceResponse(router, subnet);
}

function removeInterface(state: AlcorState, routerId: string, body: unknown): RouterInterfaceResponse {
  const subnet = interfaceSubnet(state, body);
  if (!subnet) return NO_INTERFACE;
  const router = state.routers.get(routerId);
  if (!router) throw new AlcorHttpError(500, 'the router or the subnet and port do not exist or are not visible');
  if (subnet.attached_router_id === null) throw new AlcorHttpError(500, 'the subnet is not attached to a router');
  const usedByRoute = router.routetable.routes.some((r) => isObject(r) && r.nexthop === subnet.gateway_ip);
  if (usedByRoute) throw new AlcorHttpError(409, 'the router interface is used by routes');
  subnet.attached_router_id = ''; // "" after detach, not null
  router.gateway_ports = (router.gateway_ports ?? []).filter((p) => p !== subnet.gatewayPortId);
  // The gateway port's device fields are cleared. This goes round PM's subnet-port index, so the
  // gateway port stays out of the subnet port count and Merak's detach-then-delete works.
  const gw = state.ports.get(subnet.gatewayPortId);
  if (gw) {
    delete gw.device_id;
    delete gw.device_owner;
  }
  return interfaceResponse(router, subnet);
}

/** Tells the hosts of the subnet (when the server pushes GoalState); the answer waits for it. */
async function pushInterface(state: AlcorState, answer: RouterInterfaceResponse, change: 'add' | 'remove'): Promise<RouterInterfaceResponse> {
  if (state.goalState && answer.id !== null && answer.subnet_id !== null) {
    await state.goalState.routerInterfaceChanged(answer.id, answer.subnet_id, change);
  }
  return answer;
}

export function routerRoutes(state: AlcorState): Route[] {
  return [
    {
      // 200, not 201: there is no @ResponseStatus(CREATED) (quirk 2).
      service: 'route', method: 'POST', pattern: '/project/{projectid}/routers', body: true,
      handler: ({ params, body }) => json(200, { router: createRouter(state, params.projectid!, body) }),
    },
    {
      service: 'route', method: 'GET', pattern: '/project/{projectid}/routers/{routerid}',
      handler: ({ params }) => json(200, { router: state.routers.get(params.routerid!) ?? null }),
    },
    {
      service: 'route', method: 'GET', pattern: '/project/{projectid}/routers',
      handler: () => json(200, { routers: [...state.routers.values()] }),
    },
    {
      service: 'route', method: 'DELETE', pattern: '/project/{projectid}/routers/{routerid}',
      handler: ({ params }) => {
        const router = state.routers.get(params.routerid!);
        if (!router) return json(200, { id: null });
        if ((router.gateway_ports?.length ?? 0) > 0) {
          throw new AlcorHttpError(409, 'the router has attached interfaces, please remove all router interfaces before you delete the router');
        }
        state.routers.delete(router.id);
        return json(200, { id: router.id });
      },
    },
    {
      service: 'route', method: 'PUT', pattern: '/project/{projectid}/routers/{routerid}/add_router_interface', body: true,
      handler: async ({ params, body }) => json(200, await pushInterface(state, addInterface(state, params.routerid!, body), 'add')),
    },
    {
      service: 'route', method: 'PUT', pattern: '/project/{projectid}/routers/{routerid}/remove_router_interface', body: true,
      handler: async ({ params, body }) => json(200, await pushInterface(state, removeInterface(state, params.routerid!, body), 'remove')),
    },
    {
      // The route manager's table for a subnet, made by subnet create (this path belongs to
      // the route manager although it sits under /subnets/). Unknown subnet: {"routetable":null}
      // in the style of quirk 1 (inferred).
      service: 'route', method: 'GET', pattern: '/project/{projectid}/subnets/{subnetid}/routetable',
      handler: ({ params }) => json(200, { routetable: state.subnetRouteTables.get(params.subnetid!) ?? null }),
    },
  ];
}
