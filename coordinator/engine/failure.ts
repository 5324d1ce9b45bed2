// What made a run fail, for its report: the run's step (from the phase it was in) and, when the
// failure was a call to a control plane or an agent, that call as the other side answered it
// (Alcor's status and body, OVSDB's error, the gRPC status). Errors are matched by type, along
// their causes: a provider may wrap the call's error in its own.
import { status as grpcStatus } from '@grpc/grpc-js';
import { AlcorError, OvsdbError, errorMessage } from '@merak/common';
import { ControlPlaneError } from '../providers/provider.js';
import type { FailedCall, RunFailure } from '../report/run-summary.js';
import type { Phase } from './run-state.js';

const BODY_MAX = 4000;

const STEP_OF: Readonly<Record<Phase, string>> = {
  pending: 'admission', network: 'network set-up', creating: 'VM creation', testing: 'ping test',
  ready: 'run', failed: 'run', deleting: 'teardown', deleted: 'teardown',
};

/** The run's step a phase stands for ("network set-up"). */
export const stepOf = (phase: Phase): string => STEP_OF[phase];

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

function callOf(e: unknown): FailedCall | undefined {
  if (e instanceof AlcorError) return { system: 'alcor', operation: operationOf(e.endpoint), endpoint: e.endpoint, url: e.url, status: e.status, body: cut(e.body) };
  if (e instanceof OvsdbError) return { system: 'ovsdb', operation: 'transaction', endpoint: '', url: '', status: 'error', body: cut(JSON.stringify(e.details) ?? '') };
  if (isGrpcFailure(e)) return { system: 'grpc', operation: 'agent call', endpoint: '', url: '', status: grpcStatus[e.code] ?? String(e.code), body: cut(e.details) };
  return undefined;
}

/** The errors along `e`'s causes, `e` first (bounded: a cause may point back). */
function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let x: unknown = e; x !== undefined && out.length < 8 && !out.includes(x); x = x instanceof Error ? x.cause : undefined) out.push(x);
  return out;
}

export function describeFailure(e: unknown, phase: Phase): RunFailure {
  const errors = chain(e);
  let call: FailedCall | undefined;
  for (const x of errors) if ((call = callOf(x))) break;
  const leftovers = errors.find((x): x is ControlPlaneError => x instanceof ControlPlaneError)?.leftovers ?? [];
  return {
    step: stepOf(phase), phase, message: errorMessage(e),
    ...(call ? { call } : {}), ...(leftovers.length > 0 ? { leftovers } : {}),
  };
}
