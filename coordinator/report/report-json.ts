// A report.json read back (from another machine or version, for `merak compare`): checked for the
// fields the comparison reads, so a wrong file is refused naming the argument and the field
// rather than compared as zeros. v1 reports (before reportVersion) are taken: what they lack is
// shown as missing on their side.
import { MerakError } from '@merak/common';
import type { Report } from './report.js';

/** A file or answer that is not a report this version can read. */
export class ReportFormatError extends MerakError {
  constructor(readonly source: string, readonly field: string, problem: string) {
    super('INVALID_ARGUMENT', `${source}: not a Merak report${field ? ` (${field}: ${problem})` : `: ${problem}`}`, { context: { source, field } });
  }
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parses `text` as a report; `source` names it in errors (the argument as the user gave it). */
export function parseReportJson(text: string, source: string): Report {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError(source, '', `not JSON (${(e as Error).message})`);
  }
  const obj = (x: unknown, path: string): Json => {
    if (!isObject(x)) throw new ReportFormatError(source, path, 'missing or not an object');
    return x;
  };
  const num = (o: Json, key: string, path: string): void => {
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) throw new ReportFormatError(source, `${path}.${key}`, 'missing or not a number');
  };
  const str = (o: Json, key: string, path: string): void => {
    if (typeof o[key] !== 'string') throw new ReportFormatError(source, `${path}.${key}`, 'missing or not a string');
  };
  const quantiles = (x: unknown, path: string): void => {
    const q = obj(x, path);
    for (const k of ['count', 'p50', 'p90', 'p99', 'max']) num(q, k, path);
  };
  const root = obj(value, '(top)');
  const scenario = obj(root.scenario, 'scenario');
  for (const k of ['id', 'name', 'provider']) str(scenario, k, 'scenario');
  num(scenario, 'hosts', 'scenario');
  str(root, 'generatedAt', '(top)');
  const vms = obj(root.vms, 'vms');
  for (const k of ['requested', 'ready', 'failed', 'pending']) num(vms, k, 'vms');
  const latency = obj(root.latencyMs, 'latencyMs');
  for (const k of ['endToEnd', 'sinceScheduled', 'agent']) quantiles(latency[k], `latencyMs.${k}`);
  for (const [step, q] of Object.entries(obj(latency.steps, 'latencyMs.steps'))) quantiles(q, `latencyMs.steps.${step}`);
  const rate = obj(root.creationRate, 'creationRate');
  num(rate, 'mean', 'creationRate');
  num(rate, 'peak', 'creationRate');
  const failures = obj(root.failures, 'failures');
  for (const [code, n] of Object.entries(obj(failures.byCode, 'failures.byCode'))) if (typeof n !== 'number') throw new ReportFormatError(source, `failures.byCode.${code}`, 'not a number');
  if (root.controlPlane !== undefined) {
    const endpoints = obj(root.controlPlane, 'controlPlane').endpoints;
    if (!Array.isArray(endpoints)) throw new ReportFormatError(source, 'controlPlane.endpoints', 'not a list');
    endpoints.forEach((e: unknown, i) => {
      const path = `controlPlane.endpoints[${i}]`;
      str(obj(e, path), 'endpoint', path);
      num(e as Json, 'errors', path);
      quantiles({ ...(e as Json) }, path);
    });
  }
  if (root.ping !== undefined) {
    const ping = obj(root.ping, 'ping');
    for (const k of ['pairsPassed', 'pairsFailed', 'isolationPassed', 'isolationFailed']) num(ping, k, 'ping');
    quantiles(ping.rttMs, 'ping.rttMs');
    quantiles(ping.firstReplyMs, 'ping.firstReplyMs');
  }
  for (const k of ['alcor', 'ovn'] as const) {
    if (root[k] === undefined) continue;
    for (const [key, q] of Object.entries(obj(root[k], k))) if (key.endsWith('Ms')) quantiles(q, `${k}.${key}`);
  }
  // Checked above for every field the comparison and the renderers read.
  return root as unknown as Report;
}
