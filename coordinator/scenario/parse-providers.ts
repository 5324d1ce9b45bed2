// The provider-specific sections of a scenario: where Alcor is and how to call it (alcor:), where
// OVN's databases are (ovn:).
import { derivedUuid } from './derived-uuid.js';
import { ALCOR_SERVICES, type AlcorSettings, type OvnSettings } from './model.js';
import type { Obj, Reader } from './reader.js';

export function parseAlcor(r: Reader, root: Obj, name: string): AlcorSettings {
  const o = r.obj(root.alcor, 'alcor', ['url', 'endpoints', 'project_id', 'tenant_id', 'timeout_ms', 'retries', 'await_goalstate']) ?? {};
  const url = (field: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    let u: URL | undefined;
    try {
      u = typeof v === 'string' ? new URL(v) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      r.issue(field, `${JSON.stringify(v)} is not an http(s) URL`);
      return undefined;
    }
    return String(v).replace(/\/+$/, '');
  };
  const endpoints: Partial<Record<(typeof ALCOR_SERVICES)[number], string>> = {};
  const e = r.obj(o.endpoints, 'alcor.endpoints', ALCOR_SERVICES);
  for (const service of ALCOR_SERVICES) {
    const v = url(`alcor.endpoints.${service}`, e?.[service]);
    if (v !== undefined) endpoints[service] = v;
  }
  const id = (key: string, dflt: string): string => {
    const v = r.str(o, key, 'alcor.', dflt) ?? dflt;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v)) r.issue(`alcor.${key}`, `'${v}' is not an id (1-64 of A-Z a-z 0-9 _ . -)`);
    return v;
  };
  const projectId = id('project_id', derivedUuid(`merak-project/${name}`));
  return {
    url: url('alcor.url', o.url),
    endpoints,
    projectId,
    tenantId: o.tenant_id === undefined ? projectId : id('tenant_id', projectId),
    timeoutMs: r.int(o, 'timeout_ms', 'alcor.', 20_000, 100, 600_000),
    retries: r.int(o, 'retries', 'alcor.', 3, 0, 10),
    awaitGoalState: flag('alcor.await_goalstate', o.await_goalstate, true),
  };

  function flag(field: string, v: unknown, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') r.issue(field, `${JSON.stringify(v)} is not true or false`);
    return v === true;
  }
}

/** An OVSDB remote the coordinator can dial: `tcp:HOST:PORT` or `unix:PATH`; the problem, or undefined. */
export function ovsdbEndpointProblem(v: string): string | undefined {
  if (v.startsWith('unix:')) return v.length > 5 ? undefined : `'${v}' has no socket path`;
  const m = /^tcp:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m) return `'${v}' is not tcp:HOST:PORT or unix:PATH`;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? undefined : `'${v}': port ${port} is not in 1..65535`;
}

export function parseOvn(r: Reader, root: Obj): OvnSettings {
  const o = r.obj(root.ovn, 'ovn', ['nb', 'sb', 'timeout_ms']) ?? {};
  const endpoint = (key: 'nb' | 'sb'): string | undefined => {
    const v = r.str(o, key, 'ovn.', undefined);
    if (v === undefined) return undefined;
    const problem = ovsdbEndpointProblem(v);
    if (problem !== undefined) r.issue(`ovn.${key}`, problem);
    return v;
  };
  return { nb: endpoint('nb'), sb: endpoint('sb'), timeoutMs: r.int(o, 'timeout_ms', 'ovn.', 60_000, 100, 3_600_000) };
}
