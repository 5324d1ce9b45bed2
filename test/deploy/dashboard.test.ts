// The Grafana dashboard (deploy/components/monitoring/merak-dashboard.json) and the Prometheus
// configurations: the JSON is a dashboard Grafana provisions (unique panel ids, a grid position, a
// Prometheus query on every panel, the variables it uses defined), and every metric a query or a
// variable names is one the agent or the coordinator really exports: the names are read from their
// prom-client registries, built as the programs build them, not from a list kept here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { CoordinatorMetrics } from '../../coordinator/metrics/coordinator-metrics.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string): string => readFileSync(`${ROOT}/${p}`, 'utf8');

interface Target { expr?: string; refId?: string; datasource?: { type?: string; uid?: string }; format?: string }
interface Panel { type: string; id: number; title: string; gridPos?: { h: number; w: number; x: number; y: number }; targets?: Target[]; panels?: Panel[]; repeat?: string }
interface Variable { type: string; name: string; query?: string | { query: string }; definition?: string }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

/** Every series name the programs export; a histogram's as Prometheus stores it (_bucket, _sum, _count). */
async function exportedSeries(): Promise<Set<string>> {
  const agent = new AgentMetrics('vh-0', () => 0);
  agent.hostAgent(() => ({ state: 'running', restarts: 0 }));
  const coordinator = new CoordinatorMetrics({ connectedAgents: () => 0, registeredAgents: () => 0 });
  const names = new Set<string>();
  for (const registry of [agent.registry, coordinator.registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

const dashboard = JSON.parse(read('deploy/components/monitoring/merak-dashboard.json')) as Dashboard;
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const metricsIn = (expr: string): string[] => [...expr.matchAll(/\bmerak_[a-z0-9_]+/g)].map((m) => m[0]);

describe('Grafana dashboard', () => {
  it('is a dashboard Grafana provisions: uid, title, unique panel ids, each panel placed on the 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).not.toBe('');
    expect(dashboard.schemaVersion).toBeGreaterThan(30);
    const panels = allPanels(dashboard.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos, p.title).toBeDefined();
      expect(p.gridPos!.x + p.gridPos!.w, p.title).toBeLessThanOrEqual(24);
    }
  });

  it('covers what the issue asks: VMs created and failed per second, step latency heatmaps, agents connected, control-plane call latency', () => {
    const panels = allPanels(dashboard.panels);
    const exprs = (title: RegExp): string => panels.filter((p) => title.test(p.title)).flatMap((p) => p.targets ?? []).map((t) => t.expr).join('\n');
    expect(exprs(/created per second/)).toMatch(/rate\(merak_agent_vms_created_total/);
    expect(exprs(/failed per second/)).toMatch(/rate\(merak_agent_vms_failed_total/);
    const heat = panels.find((p) => p.type === 'heatmap' && p.repeat === 'step');
    expect(heat?.targets?.[0]).toMatchObject({ format: 'heatmap', expr: expect.stringMatching(/merak_agent_step_duration_seconds_bucket\{step=~"\$step"/) });
    expect(exprs(/^Agents connected$/)).toMatch(/merak_coordinator_agents_connected/);
    expect(exprs(/Control-plane call latency/)).toMatch(/histogram_quantile\(0\.99, sum by \(le, endpoint\) \(rate\(merak_agent_control_plane_call_seconds_bucket/);
    expect(exprs(/Control-plane call latency/)).toMatch(/merak_coordinator_control_plane_call_seconds_bucket/);
  });

  it('every panel queries Prometheus, and every metric a query or a variable names is one the agent or the coordinator exports', async () => {
    const exported = await exportedSeries();
    const vars = new Set(dashboard.templating.list.map((v) => v.name));
    const unknown: string[] = [];
    let queries = 0;
    for (const p of allPanels(dashboard.panels).filter((x) => x.type !== 'row')) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        queries++;
        expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        const names = metricsIn(t.expr ?? '');
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        unknown.push(...names.filter((n) => !exported.has(n)).map((n) => `${p.title}: ${n}`));
        for (const v of (t.expr ?? '').matchAll(/\$(\w+)/g)) if (!v[1]!.startsWith('__')) expect(vars, `${p.title}: $${v[1]}`).toContain(v[1]);
      }
      if (p.repeat) expect(vars).toContain(p.repeat);
    }
    for (const v of dashboard.templating.list) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
      unknown.push(...metricsIn(q).filter((n) => !exported.has(n)).map((n) => `variable ${v.name}: ${n}`));
    }
    expect(queries).toBeGreaterThan(10);
    expect(unknown).toEqual([]);
  });

  it('notices a metric the programs do not export (the check is not vacuous)', async () => {
    const exported = await exportedSeries();
    expect(exported.has('merak_agent_vms_created_total')).toBe(true);
    expect(exported.has('merak_agent_step_duration_seconds_bucket')).toBe(true);
    expect(exported.has('merak_agent_vms_created')).toBe(false);
    expect(exported.has('merak_coordinator_step_duration_seconds_bucket')).toBe(false);
  });
});

describe('Prometheus configurations', () => {
  interface ScrapeConfig { job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }>; static_configs?: Array<{ targets: string[] }> }
  const jobs = (path: string): ScrapeConfig[] => (parseYaml(read(path)) as { scrape_configs: ScrapeConfig[] }).scrape_configs;

  it("Kubernetes: scrapes the coordinator's and the vhosts' Services on the ports the manifests serve /metrics on", () => {
    const port = (file: string): number => {
      const doc = read(file);
      const m = /prometheus\.io\/port: "(\d+)"/.exec(doc);
      return Number(m![1]);
    };
    const byJob = new Map(jobs('deploy/components/monitoring/prometheus.yml').map((j) => [j.job_name, j.dns_sd_configs![0]!]));
    expect(byJob.get('merak-coordinator')).toEqual({ names: ['coordinator'], type: 'A', port: port('deploy/base/coordinator.yaml') });
    expect(byJob.get('merak-agents')).toEqual({ names: ['vhost'], type: 'A', port: port('deploy/base/vhost.yaml') });
  });
});
