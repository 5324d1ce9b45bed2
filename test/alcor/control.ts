// The control endpoint for the standalone server: state, call log and fault rules over HTTP,
// under /_merak/ (no Alcor path starts with "/_"). Not subject to faults, not in the call log.
import { MerakError, errorMessage } from '@merak/common';
import type { CallLog } from './calls.js';
import type { Faults, FaultRuleSpec } from './faults.js';
import type { PushFaultSpec, PushFaults } from './goalstate/push-faults.js';
import type { PushLog } from './goalstate/push-log.js';
import type { Reply } from './routes.js';
import type { AlcorSnapshot } from './state.js';

export const CONTROL_PREFIX = '/_merak/';

export interface ControlTarget {
  readonly calls: CallLog;
  readonly faults: Faults;
  state(): AlcorSnapshot;
  reset(): void;
  /** The GoalState push, when the server pushes. */
  goalState(): { readonly pushes: PushLog; readonly faults: PushFaults } | undefined;
}

const fail = (status: number, message: string): Reply => ({ status, json: { error: message } });

export function handleControl(target: ControlTarget, method: string, path: string, query: URLSearchParams, body: unknown): Reply {
  const route = `${method} ${path.replace(/\/$/, '')}`;
  try {
    if (route === 'GET /_merak/state') return { status: 200, json: target.state() };
    if (route === 'GET /_merak/calls') {
      const since = Number(query.get('since') ?? 0);
      return { status: 200, json: target.calls.all().filter((c) => c.seq > since) };
    }
    if (route === 'DELETE /_merak/calls') {
      target.calls.clear();
      return { status: 200, empty: true };
    }
    if (route === 'GET /_merak/faults') return { status: 200, json: target.faults.list() };
    if (route === 'POST /_merak/faults') return { status: 201, json: target.faults.add(body as FaultRuleSpec) };
    if (route === 'DELETE /_merak/faults') {
      target.faults.clear();
      return { status: 200, empty: true };
    }
    const one = /^DELETE \/_merak\/faults\/([^/]+)$/.exec(route);
    if (one) return target.faults.remove(decodeURIComponent(one[1]!)) ? { status: 200, empty: true } : fail(404, `no fault rule '${one[1]}'`);
    if (route.startsWith('GET /_merak/push') || route.startsWith('POST /_merak/push') || route.startsWith('DELETE /_merak/push')) {
      return handlePushControl(target, route, query, body);
    }
    if (route === 'POST /_merak/reset') {
      target.reset();
      return { status: 200, empty: true };
    }
    return fail(404, `no control endpoint ${route}`);
  } catch (e) {
    if (e instanceof MerakError) return fail(400, e.message);
    return fail(500, errorMessage(e));
  }
}

/** GET /_merak/pushes and the push fault rules under /_merak/push-faults. */
function handlePushControl(target: ControlTarget, route: string, query: URLSearchParams, body: unknown): Reply {
  const push = target.goalState();
  if (!push) return fail(404, 'this server does not push GoalState (start it with the push on)');
  if (route === 'GET /_merak/pushes') {
    const since = Number(query.get('since') ?? 0);
    const host = query.get('host');
    return { status: 200, json: push.pushes.all().filter((p) => p.seq > since && (host === null || p.host === host)) };
  }
  if (route === 'DELETE /_merak/pushes') {
    push.pushes.clear();
    return { status: 200, empty: true };
  }
  if (route === 'GET /_merak/push-faults') return { status: 200, json: push.faults.list() };
  if (route === 'POST /_merak/push-faults') return { status: 201, json: push.faults.add(body as PushFaultSpec) };
  if (route === 'DELETE /_merak/push-faults') {
    push.faults.clear();
    return { status: 200, empty: true };
  }
  const one = /^DELETE \/_merak\/push-faults\/([^/]+)$/.exec(route);
  if (one) return push.faults.remove(decodeURIComponent(one[1]!)) ? { status: 200, empty: true } : fail(404, `no push fault rule '${one[1]}'`);
  return fail(404, `no control endpoint ${route}`);
}
