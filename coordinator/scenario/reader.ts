// The scenario parser's field reader: each read checks a field, records a problem against its
// path (so every problem is told at once), and gives a default in its place.
import { formatIpv4, networkOf, parseIpv4 } from '@merak/common';

export type Obj = Record<string, unknown>;
const NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
/** The most VMs a scenario may ask for. */
export const MAX_VMS = 10_000_000;

/** Reads fields of one object, recording issues against their paths. */
export class Reader {
  constructor(readonly issues: { path: string; message: string }[]) {}

  obj(v: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.issue(path, 'must be an object');
      return undefined;
    }
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.issue(path ? `${path}.${k}` : k, `unknown field (expected one of: ${allowed.join(', ')})`);
    return v as Obj;
  }

  issue(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  int(o: Obj | undefined, key: string, path: string, dflt: number, min: number, max: number): number {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.issue(`${path}${key}`, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
      return dflt;
    }
    return v;
  }

  num(o: Obj | undefined, key: string, path: string, dflt: number, check: (n: number) => boolean, what: string): number {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !check(v)) {
      this.issue(`${path}${key}`, `${JSON.stringify(v)} is not ${what}`);
      return dflt;
    }
    return v;
  }

  str(o: Obj | undefined, key: string, path: string, dflt: string | undefined, allowed?: readonly string[]): string | undefined {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || (allowed && !allowed.includes(v))) {
      this.issue(`${path}${key}`, allowed ? `${JSON.stringify(v)} is not one of: ${allowed.join(', ')}` : 'must be a string');
      return dflt;
    }
    return v;
  }

  name(o: Obj | undefined, key: string, path: string, dflt?: string): string {
    const v = this.str(o, key, path, dflt);
    if (v === undefined) {
      this.issue(`${path}${key}`, 'is required');
      return '';
    }
    if (!NAME.test(v)) this.issue(`${path}${key}`, `'${v}' is not a name (1-40 of a-z 0-9 -, starting and ending alphanumeric)`);
    return v;
  }

  list(o: Obj | undefined, key: string, path: string): unknown[] {
    const v = o?.[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.issue(`${path}${key}`, 'must be a list');
      return [];
    }
    return v;
  }
}

export function cidr(r: Reader, text: unknown, path: string): { network: number; prefixLength: number } | undefined {
  const m = typeof text === 'string' ? /^(.+)\/(\d{1,2})$/.exec(text) : null;
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (!m || ip === undefined || prefixLength > 32) {
    r.issue(path, `${JSON.stringify(text)} is not an IPv4 CIDR`);
    return undefined;
  }
  if (networkOf(ip, prefixLength) !== ip) {
    r.issue(path, `${String(text)} has host bits set (did you mean ${formatIpv4(networkOf(ip, prefixLength))}/${prefixLength}?)`);
    return undefined;
  }
  return { network: ip, prefixLength };
}
