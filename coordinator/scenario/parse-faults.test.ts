import { describe, expect, it } from 'vitest';
import { parseScenario } from './index.js';
import { issuesOf } from './test-support/issues.js';

const base = { name: 'demo', hosts: { count: 3 }, vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [{ name: 's1', cidr: '10.1.0.0/24', vms: 10 }] }] };
const alcor = { ...base, provider: 'alcor', alcor: { url: 'http://127.0.0.1' } };

describe('scenario faults', () => {
  it('reads each kind with its defaults', () => {
    const s = parseScenario({
      ...alcor,
      faults: [
        { kind: 'agent-kill', at_s: 1.5, hosts: { count: 1 } },
        { kind: 'vhost-isolate', after_ready: 4, hosts: { names: ['vh-1'] }, for_s: 2 },
        { kind: 'ovs-restart', at_s: 0, hosts: { fraction: 0.5 } },
        { kind: 'control-plane-errors', at_s: 0, for_s: 3, rate: 0.25 },
        { kind: 'control-plane-delay', after_ready: 1, for_s: 1, delay_ms: 300 },
      ],
    });
    expect(s.faults).toEqual([
      { kind: 'agent-kill', when: { kind: 'at', atMs: 1500 }, hosts: { kind: 'count', count: 1 }, forMs: 0, rate: 0, status: 0, delayMs: 0 },
      { kind: 'vhost-isolate', when: { kind: 'after-ready', vms: 4 }, hosts: { kind: 'names', names: ['vh-1'] }, forMs: 2000, rate: 0, status: 0, delayMs: 0 },
      { kind: 'ovs-restart', when: { kind: 'at', atMs: 0 }, hosts: { kind: 'fraction', fraction: 0.5 }, forMs: 0, rate: 0, status: 0, delayMs: 0 },
      { kind: 'control-plane-errors', when: { kind: 'at', atMs: 0 }, hosts: undefined, forMs: 3000, rate: 0.25, status: 503, delayMs: 0 },
      { kind: 'control-plane-delay', when: { kind: 'after-ready', vms: 1 }, hosts: undefined, forMs: 1000, rate: 1, status: 0, delayMs: 300 },
    ]);
    expect(Object.isFrozen(s.faults[1]!.hosts)).toBe(true);
    expect(parseScenario(base).faults).toEqual([]);
  });

  it('names the field of every bad setting', () => {
    const issues = issuesOf({
      ...base,
      faults: [
        { kind: 'agent-kill', at_s: 1, hosts: { count: 1 }, for_s: 5 },
        { kind: 'vhost-isolate', at_s: 1, hosts: { count: 1 }, for_s: -2 },
        { kind: 'vhost-isolate', at_s: 1, hosts: { count: 4 } },
        { kind: 'explode', at_s: 1, hosts: { count: 1 } },
        { kind: 'ovs-restart', at_s: 1, after_ready: 3, hosts: { count: 1, fraction: 0.5 } },
        { kind: 'agent-kill', hosts: { fraction: 2 } },
        { kind: 'agent-kill', after_ready: 11, hosts: { names: [] }, colour: 'red' },
        { kind: 'control-plane-delay', at_s: 0, for_s: 1, hosts: { count: 1 }, status: 500 },
        'agent-kill',
      ],
    });
    expect(issues).toEqual(expect.arrayContaining([
      ['faults[0].for_s', 'agent-kill has no duration: its supervisor starts the process again'],
      ['faults[1].for_s', '-2 is not a duration in seconds in (0, 3600]'],
      ['faults[2].hosts.count', '4 vhosts: the scenario runs on 3'],
      ['faults[2].for_s', 'is required for vhost-isolate'],
      ['faults[3].kind', '"explode" is not one of: agent-kill, vhost-isolate, ovs-restart, control-plane-errors, control-plane-delay'],
      ['faults[4].at_s', 'give at_s or after_ready, not both'],
      ['faults[4].hosts', 'give one of names, count or fraction, not count and fraction'],
      ['faults[5].at_s', 'is required (or after_ready)'],
      ['faults[5].hosts.fraction', '2 is not a fraction in (0, 1]'],
      ['faults[6].after_ready', '11 VMs: the scenario asks for 10, so it would never start'],
      ['faults[6].hosts.names', 'is empty'],
      ['faults[6].colour', expect.stringMatching(/^unknown field/)],
      ['faults[7].hosts', "control-plane-delay hits the control plane's calls, not vhosts: give no hosts"],
      ['faults[7].status', 'is not a setting of control-plane-delay'],
      ['faults[7].delay_ms', 'is required for control-plane-delay'],
      ['faults[7].kind', expect.stringMatching(/provider: alcor\); provider standalone has none/)],
      ['faults[8]', 'must be an object'],
    ]));
  });

  it('refuses hosts outside the named ones and control-plane settings out of range', () => {
    expect(issuesOf({ ...base, hosts: { names: ['a', 'b'] }, faults: [{ kind: 'agent-kill', at_s: 0, hosts: { names: ['c'] } }] }))
      .toEqual([['faults[0].hosts.names[0]', "'c' is not one of the scenario's hosts.names"]]);
    expect(issuesOf({ ...alcor, faults: [{ kind: 'control-plane-errors', at_s: 0, for_s: 1, rate: 0, status: 200 }] })).toEqual([
      ['faults[0].rate', '0 is not a fraction of calls in (0, 1]'],
      ['faults[0].status', '200 is not an integer in 400..599'],
    ]);
    expect(issuesOf({ ...base, faults: { kind: 'agent-kill' } })).toEqual([['faults', 'must be a list']]);
  });
});
