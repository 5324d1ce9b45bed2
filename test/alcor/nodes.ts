// Node manager (NodePort 30007), Alcor's REST API, docs/alcor.md Nodes are the emulated hosts; a
// port's `binding:host_id` must equal one node's `node_name` (quirk 9).
import type { JsonObject, NodeInfo } from './entities.js';
import { AlcorHttpError, NO_MESSAGE } from './errors.js';
import { isObject, readArray, readInt, readObject, readString, requestObject } from './request-fields.js';
import { json, type Route } from './routes.js';
import type { AlcorState } from './state.js';

/** `NodeInfo.validateIp`: the only validation, done on single create. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)$/;

const QUERY_KEYS = ['node_name', 'node_id', 'mac_address', 'local_ip', 'ncm_id'] as const;

function readNode(obj: JsonObject): NodeInfo {
  return {
    node_id: readString(obj, 'node_id') ?? null,
    node_name: readString(obj, 'node_name') ?? null,
    local_ip: readString(obj, 'local_ip') ?? null,
    mac_address: readString(obj, 'mac_address') ?? null,
    veth: readString(obj, 'veth') ?? null,
    server_port: readInt(obj, 'server_port') ?? 0, // a Java int
    host_dvr_mac: readString(obj, 'host_dvr_mac') ?? null,
    ncm_id: readString(obj, 'ncm_id') ?? null,
    'data-path-ip': readString(obj, 'data-path-ip') ?? null,
    ncm_uri: null, // derived from ncm_id; there are no NCMs here
  };
}

/** Nodes whose `node_name` is exactly `name` (`GET /nodes?node_name=`, what PM asks). */
export function nodesNamed(state: AlcorState, name: string): NodeInfo[] {
  return [...state.nodes.values()].filter((n) => n.node_name === name);
}

// A node without node_id is kept under "" (Alcor does not say; Merak always sends one).
const key = (n: NodeInfo): string => n.node_id ?? '';

export function nodeRoutes(state: AlcorState): Route[] {
  return [
    {
      // 200 (not 201) and a bare array (quirk 2). Upsert, no validation.
      service: 'node', method: 'POST', pattern: '/nodes/bulk', body: true,
      handler: ({ body }) => {
        const list = readArray(requestObject(body, 'BulkNodeInfoJson'), 'host_infos');
        if (!list) throw new AlcorHttpError(500, NO_MESSAGE); // a null list is an NPE
        const nodes = list.map((item) => readNode(isObject(item) ? item : {}));
        // [QUIRK 11] augmentNodeInfosWithNcmUri: the first element's ncm_uri becomes
        // "<its ncm_uri>/bulk", literally "null/bulk" without an NCM; the others stay null. The
        // same objects are stored (inferred), so a later GET shows it too.
        if (nodes[0]) nodes[0].ncm_uri = `${String(nodes[0].ncm_uri)}/bulk`;
        for (const n of nodes) state.nodes.set(key(n), n);
        return json(200, nodes);
      },
    },
    {
      service: 'node', method: 'POST', pattern: '/nodes', body: true,
      handler: ({ body }) => {
        const obj = readObject(requestObject(body, 'NodeInfoJson'), 'host_info');
        if (!obj) throw new AlcorHttpError(500, NO_MESSAGE);
        const node = readNode(obj);
        if (node.local_ip === null || !IPV4.test(node.local_ip)) throw new AlcorHttpError(500, `Invalid local ip: ${String(node.local_ip)}`);
        // An ncm_id must name an NCM registered via /ncms; none can be registered here.
        if (node.ncm_id !== null) throw new AlcorHttpError(500, `NCM ${node.ncm_id} is not registered`);
        state.nodes.set(key(node), node);
        return json(201, { host_info: node });
      },
    },
    {
      service: 'node', method: 'GET', pattern: '/nodes/{nodeid}',
      handler: ({ params }) => json(200, { host_info: state.nodes.get(params.nodeid!) ?? null }),
    },
    {
      // The key `nodeInfos` comes from an unannotated getter (NodesWebJson).
      service: 'node', method: 'GET', pattern: '/nodes',
      handler: ({ query }) => {
        const nodes = [...state.nodes.values()].filter((n) =>
          QUERY_KEYS.every((k) => !query.has(k) || query.getAll(k).includes(String(n[k]))));
        return json(200, { nodeInfos: nodes });
      },
    },
    {
      // A plain-text body, not JSON (quirk 2); an unknown id is a 500 (quirk 1). Bound ports are
      // not checked.
      service: 'node', method: 'DELETE', pattern: '/nodes/{nodeid}',
      handler: ({ params }) => {
        const id = params.nodeid!;
        if (!state.nodes.delete(id)) throw new AlcorHttpError(500, 'The node to update or delete is not existing.');
        return { status: 200, text: `{Node(Node) Id: ${id}}` };
      },
    },
  ];
}
