// Routes (IPv4, main table): types and operations.
import { InvalidArgumentError } from '@merak/common';
import { AF, NLM_F, type NetlinkRequester, RTM, RTN, RTPROT, RT_SCOPE, RT_TABLE, type RtMessage } from '../netlink/index.js';
import { checkIndex, checkIp, checkPrefixLength } from './validate.js';

export interface Route {
  /** undefined for the default route. */
  readonly dst: string | undefined;
  readonly prefixLength: number;
  readonly gateway: string | undefined;
  readonly ifindex: number | undefined;
  readonly protocol: number;
  readonly scope: number;
  /** RTN_* */
  readonly type: number;
  readonly priority: number | undefined;
  readonly prefsrc: string | undefined;
}

export interface RouteSpec {
  readonly dst: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly ifindex?: number;
}

// Equivalent to: ip route add default via GATEWAY [dev IFINDEX]
export async function routeAddDefault(nl: NetlinkRequester, gateway: string, ifindex?: number): Promise<void> {
  const { family } = checkIp('gateway', gateway);
  if (ifindex !== undefined) checkIndex('ifindex', ifindex);
  await addRoute(nl, family, undefined, 0, gateway, ifindex, `default via ${gateway}`);
}

// Equivalent to: ip route add DST/PREFIX [via GATEWAY] [dev IFINDEX]
export async function routeAdd(nl: NetlinkRequester, spec: RouteSpec): Promise<void> {
  const { family } = checkIp('dst', spec.dst);
  checkPrefixLength('prefixLength', spec.prefixLength, family);
  if (spec.gateway !== undefined && checkIp('gateway', spec.gateway).family !== family) {
    throw new InvalidArgumentError('gateway', `${spec.gateway} is not of the same family as ${spec.dst}`);
  }
  if (spec.ifindex !== undefined) checkIndex('ifindex', spec.ifindex);
  if (spec.gateway === undefined && spec.ifindex === undefined) throw new InvalidArgumentError('gateway', 'a route needs a gateway or an ifindex');
  await addRoute(nl, family, spec.dst, spec.prefixLength, spec.gateway, spec.ifindex, `${spec.dst}/${spec.prefixLength}`);
}

async function addRoute(
  nl: NetlinkRequester, family: number, dst: string | undefined, prefixLength: number, gateway: string | undefined, ifindex: number | undefined,
  object: string,
): Promise<void> {
  await nl.request({
    type: RTM.NEWROUTE,
    flags: NLM_F.CREATE | NLM_F.EXCL,
    body: {
      kind: 'route',
      family,
      dstLength: prefixLength,
      table: RT_TABLE.MAIN,
      protocol: RTPROT.BOOT,
      // As iproute2: a route without a gateway is on-link.
      scope: gateway === undefined ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE,
      routeType: RTN.UNICAST,
      attrs: {
        ...(dst !== undefined && { dst }),
        ...(gateway !== undefined && { gateway }),
        ...(ifindex !== undefined && { oif: ifindex }),
      },
    },
  }, { expect: 'ack', object });
}

// Equivalent to: ip -4 route show table main
export async function routeList(nl: NetlinkRequester): Promise<Route[]> {
  const msgs = await nl.request({ type: RTM.GETROUTE, body: { kind: 'route', family: AF.INET } }, { expect: 'dump' });
  return msgs
    .filter((m): m is RtMessage => m.kind === 'route' && m.header.type === RTM.NEWROUTE)
    .filter((m) => (m.attrs.table ?? m.table) === RT_TABLE.MAIN)
    .map((m) => ({
      dst: m.dstLength === 0 ? undefined : m.attrs.dst,
      prefixLength: m.dstLength,
      gateway: m.attrs.gateway,
      ifindex: m.attrs.oif,
      protocol: m.protocol,
      scope: m.scope,
      type: m.routeType,
      priority: m.attrs.priority,
      prefsrc: m.attrs.prefsrc,
    }));
}
