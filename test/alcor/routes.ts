// The route table: each Alcor endpoint as data (service, method, path template, handler), matched
// by whole path segments as Spring MVC does. Matching is by segments, not prefixes, so the one
// place where services share a path stem — `/project/{p}/subnets/{s}` (subnet manager) versus
// `/project/{p}/subnets/{s}/routetable` (route manager) — resolves to the right service.
import type { AlcorService, JsonValue } from './entities.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body (checked present for routes with `body: true`). */
  readonly body: unknown;
  readonly path: string;
}

export type Reply =
  | { readonly status: number; readonly json: JsonValue | object }
  | { readonly status: number; readonly text: string }
  | { readonly status: number; readonly empty: true };

export interface Route {
  readonly service: AlcorService;
  readonly method: HttpMethod;
  /** Spring-style template: `/project/{project_id}/ports/{port_id}`. */
  readonly pattern: string;
  /** A @RequestBody parameter: a missing body is 400, a non-JSON one 415. */
  readonly body?: boolean;
  readonly handler: (ctx: RouteContext) => Reply | Promise<Reply>;
}

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
  /** Literal segments count for more than variables: `/ports/bulk` beats `/ports/{port_id}`. */
  readonly literals: number;
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly service: AlcorService }
  | { readonly kind: 'not-found' };

export const json = (status: number, body: JsonValue | object): Reply => ({ status, json: body });

/** Splits a path into decoded segments; Spring also matches a path with one trailing slash. */
export function pathSegments(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
}

const isVariable = (segment: string): boolean => segment.startsWith('{') && segment.endsWith('}');

export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.routes = routes.map((route) => {
      const segments = route.pattern.split('/').slice(1);
      return { route, segments, literals: segments.filter((s) => !isVariable(s)).length };
    });
  }

  /** Only the routes of these services (one NodePort listener answers only its service's paths). */
  only(services: ReadonlySet<AlcorService>): RouteTable {
    return new RouteTable(this.routes.filter((r) => services.has(r.route.service)).map((r) => r.route));
  }

  match(method: string, path: string): RouteMatch {
    const segments = pathSegments(path);
    let best: { c: CompiledRoute; params: Record<string, string> } | undefined;
    let otherMethod: CompiledRoute | undefined;
    for (const c of this.routes) {
      const params = matchSegments(c.segments, segments);
      if (!params) continue;
      if (c.route.method !== method) {
        otherMethod ??= c;
        continue;
      }
      if (!best || c.literals > best.c.literals) best = { c, params };
    }
    if (best) return { kind: 'found', route: best.c.route, params: best.params };
    if (otherMethod) return { kind: 'method-not-allowed', service: otherMethod.route.service };
    return { kind: 'not-found' };
  }
}

function matchSegments(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (isVariable(p)) {
      if (s === '') return undefined;
      params[p.slice(1, -1)] = s;
    } else if (p !== s) {
      return undefined;
    }
  }
  return params;
}
