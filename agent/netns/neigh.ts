// Neighbours (ARP/NDP entries): types and operations.
import { AF, NLM_F, NUD, type NdMessage, type NetlinkRequester, RTM } from '../netlink/index.js';
import { checkIndex, checkIp, checkMac } from './validate.js';

export interface Neigh {
  readonly ifindex: number;
  readonly ip: string;
  readonly mac: string | undefined;
  /** NUD_* */
  readonly state: number;
  readonly permanent: boolean;
}

// Equivalent to: ip neigh add IP lladdr MAC dev IFINDEX nud permanent
export async function neighAdd(nl: NetlinkRequester, ifindex: number, ip: string, mac: string): Promise<void> {
  checkIndex('ifindex', ifindex);
  const { family } = checkIp('ip', ip);
  checkMac('mac', mac);
  await nl.request({
    type: RTM.NEWNEIGH,
    flags: NLM_F.CREATE | NLM_F.EXCL,
    body: { kind: 'neigh', family, index: ifindex, state: NUD.PERMANENT, attrs: { dst: ip, lladdr: mac } },
  }, { expect: 'ack', object: `${ip} on ifindex ${ifindex}` });
}

// Equivalent to: ip neigh show
export async function neighList(nl: NetlinkRequester): Promise<Neigh[]> {
  const msgs = await nl.request({ type: RTM.GETNEIGH, body: { kind: 'neigh', family: AF.UNSPEC } }, { expect: 'dump' });
  return msgs
    .filter((m): m is NdMessage & { attrs: { dst: string } } => m.kind === 'neigh' && m.header.type === RTM.NEWNEIGH && m.attrs.dst !== undefined)
    .map((m) => ({ ifindex: m.index, ip: m.attrs.dst, mac: m.attrs.lladdr, state: m.state, permanent: (m.state & NUD.PERMANENT) !== 0 }));
}
