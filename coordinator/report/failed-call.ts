// A failed call as the other side answered it, for a failed run's report: Alcor's status and
// body, OVSDB's error, an agent's gRPC status. Matched by the error's type, never its text.
import { status as grpcStatus } from '@grpc/grpc-js';
import { AlcorError, OvsdbError } from '@merak/common';
import type { FailedCall } from './run-summary.js';

const BODY_MAX = 4000;

/** A gRPC error as grpc-js makes them: an Error with a numeric code and details. */
interface GrpcFailure extends Error {
  readonly code: number;
  readonly details: string;
}

function isGrpcFailure(e: unknown): e is GrpcFailure {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'number' && typeof (e as { details?: unknown }).details === 'string';
}

const cut = (s: string): string => (s.length > BODY_MAX ? `${s.slice(0, BODY_MAX)}…` : s);

/**
 * An HTTP endpoint in words: "POST /project/{project_id}/subnets" -> "subnet create",
 * "POST /nodes/bulk" -> "node create (bulk)", "PUT .../add_router_interface" -> "add_router_interface".
 */
export function operationOf(endpoint: string): string {
  const [method = '', path = ''] = endpoint.split(' ');
  const literal = path.split('/').filter((p) => p !== '' && !p.startsWith('{'));
  let last = literal.at(-1) ?? '';
  const bulk = last === 'bulk';
  if (bulk) last = literal.at(-2) ?? '';
  if (last.includes('_')) return last;
  const noun = last.endsWith('s') ? last.slice(0, -1) : last;
  const verb = ({ POST: 'create', PUT: 'update', DELETE: 'delete', GET: 'look-up' } as Record<string, string>)[method] ?? method.toLowerCase();
  return `${noun} ${verb}${bulk ? ' (bulk)' : ''}`;
}

/** The call `e` is the failure of (matched by type), as the other side answered it; undefined: not a call. */
export function failedCallOf(e: unknown): FailedCall | undefined {
  if (e instanceof AlcorError) return { system: 'alcor', operation: operationOf(e.endpoint), endpoint: e.endpoint, url: e.url, status: e.status, body: cut(e.body) };
  if (e instanceof OvsdbError) return { system: 'ovsdb', operation: 'transaction', endpoint: '', url: '', status: 'error', body: cut(JSON.stringify(e.details) ?? '') };
  if (isGrpcFailure(e)) return { system: 'grpc', operation: 'agent call', endpoint: '', url: '', status: grpcStatus[e.code] ?? String(e.code), body: cut(e.details) };
  return undefined;
}
