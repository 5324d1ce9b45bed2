// Strict schema checks for rendered Kubernetes objects. kubernetes-models validates types, enums
// and required fields, but, like an API server without strict field validation, lets unknown fields
// through (a misspelt `readinessProbe` is silently dropped by the cluster). So every field is also
// probed: it is replaced by a value no schema type accepts (a Symbol), and a field the schema knows
// then fails at its own path; a field the schema does not know passes, and is reported.
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** The kinds the manifests use; another kind fails the check until it is added here. */
const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
};

interface SchemaIssue {
  readonly instancePath: string;
  readonly message?: string;
}

const PROBE = Symbol('not a value of any schema type');

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON pointer (RFC 6901), as the validator reports paths. */
function pointer(path: readonly string[]): string {
  return path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function issuesOf(model: ModelClass, data: unknown): SchemaIssue[] {
  try {
    new model(data as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) return errors as SchemaIssue[];
    throw e;
  }
}

function withProbeAt(root: unknown, path: readonly string[]): unknown {
  const copy = structuredClone(root) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]!] = PROBE;
  return copy;
}

/** Paths (JSON pointers) of the fields the schema does not know. */
function unknownFields(model: ModelClass, root: unknown): string[] {
  const unknown: string[] = [];
  const visit = (node: unknown, path: string[]): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => visit(v, [...path, String(i)]));
    } else if (isObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        const at = [...path, key];
        const p = pointer(at);
        const known = issuesOf(model, withProbeAt(root, at)).some((i) => i.instancePath === p || i.instancePath.startsWith(`${p}/`));
        if (known) visit(value, at);
        else unknown.push(p);
      }
    }
  };
  visit(root, []);
  return unknown;
}

/** What is wrong with one object: schema errors, then unknown fields; empty when it is valid. */
export function strictProblems(obj: unknown): string[] {
  if (!isObject(obj)) return ['not an object'];
  const id = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const model = MODELS[id];
  if (!model) return [`${id}: no schema registered in test/deploy/k8s-schema.ts`];
  const issues = issuesOf(model, obj);
  if (issues.length > 0) return issues.map((i) => `${i.instancePath || '/'} ${i.message ?? 'invalid'}`);
  return unknownFields(model, obj).map((p) => `${p}: unknown field`);
}

/** The library's own verdict, without the unknown-field probe (to show why the probe exists). */
export function libraryAccepts(obj: { apiVersion: string; kind: string }): boolean {
  const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!model) throw new Error(`no schema for ${obj.apiVersion}/${obj.kind}`);
  return issuesOf(model, obj).length === 0;
}
