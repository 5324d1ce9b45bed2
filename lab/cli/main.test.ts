// `merak` as a user runs it (node lab/dist/cli/main.js, built by `tsc -b`): the demo's
// --provider takes standalone, alcor and ovn, says so in --help, and a bad one is refused with
// the choices named, before anything is made. examples/ovn.yaml is the OVN demo's scenario.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ovnDemoScenarioYaml, parseScenario } from '@merak/coordinator';
import { DEMO_PROVIDERS, isDemoProvider } from './demo.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

function merak(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b; npm test does it)`);
  // A local folder of its own: nothing the command could read or make is shared with a real run.
  const r = spawnSync(process.execPath, [MAIN, ...args, '--local-dir', '/nonexistent/merak-cli-test'], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('merak demo --provider', () => {
  it('knows standalone, alcor and ovn', () => {
    expect(DEMO_PROVIDERS).toEqual(['standalone', 'alcor', 'ovn']);
    expect(isDemoProvider('ovn')).toBe(true);
    expect(isDemoProvider('neutron')).toBe(false);
  });

  it('refuses a bad provider naming the choices, with exit code 2 and the help', () => {
    const r = merak('demo', '--provider', 'neutron');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("merak: --provider: 'neutron' is not one of standalone, alcor, ovn");
    expect(r.stderr).toContain('Usage: merak COMMAND');
  });

  it('accepts ovn: the next flag checked is --hosts (every flag is checked before anything is made)', () => {
    const r = merak('demo', '--provider', 'ovn', '--hosts', '0');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe("merak: --hosts: '0' is not an integer in 1..64");
  });

  it('explains each provider in --help', () => {
    const r = merak('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--provider P +demo: the control plane under test/);
    for (const p of DEMO_PROVIDERS) expect(r.stdout).toMatch(new RegExp(`^ +${p} +\\S`, 'm'));
    expect(r.stdout).toContain('--provider ovn: the same with OVN as the control plane');
    expect(r.stdout).toContain('merak demo --provider ovn');
  });
});

describe('the OVN demo scenario', () => {
  it('is examples/ovn.yaml: OVN, 50 VMs, a security group that lets ICMP in, a router, ping between all', () => {
    const example = parseScenario(readFileSync(new URL('../../examples/ovn.yaml', import.meta.url), 'utf8'));
    const demo = parseScenario(ovnDemoScenarioYaml());
    expect(demo).toEqual(example);
    expect(demo.provider).toBe('ovn');
    expect(demo.ovn?.nb).toBeUndefined();
    expect(demo.vm.mtu).toBe(1442);
    expect(demo.vpcs[0]!.subnets[0]).toMatchObject({ cidr: '10.1.0.0/16', gateway: '10.1.0.1', vms: 50, securityGroups: ['web'] });
    expect(demo.securityGroups[0]!.rules.some((r) => r.direction === 'ingress' && r.protocol === 'icmp')).toBe(true);
    expect(demo.routers).toHaveLength(1);
    expect(demo.test.kind).toBe('ping');
  });
});
