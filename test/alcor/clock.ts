// The two timestamp formats Alcor writes into entities (Alcor's REST API, docs/alcor.md).
const pad = (n: number): string => String(n).padStart(2, '0');

/** VPC, subnet: UTC `yyyy-MM-dd HH:mm:ss`. */
export function utcStamp(d = new Date()): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Security groups: the server's *local* time, same format (SG/utils/TimeUtil.java). */
export function localStamp(d = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
