// Addresses: types and operations.
import { AF, type IfAddrMessage, NLM_F, type NetlinkRequester, RTM, RT_SCOPE } from '../netlink/index.js';
import { checkIndex, checkIp, checkPrefixLength } from './validate.js';

export interface Addr {
  readonly ifindex: number;
  readonly ip: string;
  readonly prefixLength: number;
  readonly family: 4 | 6;
  readonly scope: number;
  readonly label: string | undefined;
}

function addrRequest(type: number, flags: number, ifindex: number, ip: string, prefixLength: number) {
  checkIndex('ifindex', ifindex);
  const { family } = checkIp('ip', ip);
  checkPrefixLength('prefixLength', prefixLength, family);
  return {
    request: {
      type,
      flags,
      // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links and the same otherwise.
      body: { kind: 'addr' as const, family, prefixLength, scope: RT_SCOPE.UNIVERSE, index: ifindex, attrs: { local: ip, address: ip } },
    },
    object: `${ip}/${prefixLength} on ifindex ${ifindex}`,
  };
}

// Equivalent to: ip addr add IP/PREFIX dev IFINDEX
export async function addrAdd(nl: NetlinkRequester, ifindex: number, ip: string, prefixLength: number): Promise<void> {
  const { request, object } = addrRequest(RTM.NEWADDR, NLM_F.CREATE | NLM_F.EXCL, ifindex, ip, prefixLength);
  await nl.request(request, { expect: 'ack', object });
}

// Equivalent to: ip addr del IP/PREFIX dev IFINDEX
export async function addrDelete(nl: NetlinkRequester, ifindex: number, ip: string, prefixLength: number): Promise<void> {
  const { request, object } = addrRequest(RTM.DELADDR, 0, ifindex, ip, prefixLength);
  await nl.request(request, { expect: 'ack', object });
}

// Equivalent to: ip addr show [dev IFINDEX]   (IPv4 and IPv6)
export async function addrList(nl: NetlinkRequester, ifindex?: number): Promise<Addr[]> {
  if (ifindex !== undefined) checkIndex('ifindex', ifindex);
  const msgs = await nl.request({ type: RTM.GETADDR, body: { kind: 'addr', family: AF.UNSPEC } }, { expect: 'dump' });
  const out: Addr[] = [];
  for (const m of msgs) {
    if (m.kind !== 'addr' || m.header.type !== RTM.NEWADDR) continue;
    if (ifindex !== undefined && m.index !== ifindex) continue;
    const ip = addrOf(m);
    if (ip === undefined) continue;
    out.push({ ifindex: m.index, ip, prefixLength: m.prefixLength, family: m.family === AF.INET6 ? 6 : 4, scope: m.scope, label: m.attrs.label });
  }
  return out;
}

function addrOf(m: IfAddrMessage): string | undefined {
  if (m.family !== AF.INET && m.family !== AF.INET6) return undefined;
  return m.attrs.local ?? m.attrs.address;
}
