import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from './config.js';

const parse = (...args: string[]) => parseAgentConfig(['--insecure', ...args], {});

describe('agent configuration: the underlay', () => {
  it('takes an underlay interface and an endpoint', () => {
    expect(parse('--underlay-interface', 'eth0', '--underlay-ip', '198.51.100.1')).toMatchObject({ underlayInterface: 'eth0', underlayIp: '198.51.100.1' });
    expect(parse()).toMatchObject({ underlayInterface: undefined, underlayIp: '' });
  });

  it('refuses bad values, naming the flag', () => {
    expect(() => parse('--underlay-interface', 'an-interface-name-too-long')).toThrow(/--underlay-interface: 'an-interface-name-too-long' is not a valid interface name/);
    expect(() => parse('--underlay-interface', 'br-int')).toThrow(/--underlay-interface: 'br-int' is the integration bridge/);
    expect(() => parse('--underlay-interface', 'eth0', '--hollow')).toThrow(/--underlay-interface: a hollow agent has no data plane/);
    expect(() => parse('--underlay-ip', '198.51.100.300')).toThrow(/--underlay-ip: '198.51.100.300' is not an IPv4 address/);
  });
});

describe('agent configuration: the GoalState server', () => {
  it('serves on port 50001 unless told, on the address given', () => {
    expect(parse('--goalstate', '0.0.0.0')).toMatchObject({ goalstate: '0.0.0.0:50001', alcorNcm: undefined });
    expect(parse('--goalstate', ':7000')).toMatchObject({ goalstate: '0.0.0.0:7000' });
    expect(parse('--goalstate', '198.51.100.1:0', '--alcor-ncm', '198.51.100.254:9016')).toMatchObject({ goalstate: '198.51.100.1:0', alcorNcm: '198.51.100.254:9016' });
    expect(parse()).toMatchObject({ goalstate: undefined });
  });

  it('refuses a bad address, an NCM without a server, and a host agent on the same port', () => {
    expect(() => parse('--goalstate', 'example:1')).toThrow(/--goalstate: 'example:1' is not HOST:PORT/);
    expect(() => parse('--goalstate', '0.0.0.0:70000')).toThrow(/--goalstate: '0.0.0.0:70000'/);
    expect(() => parse('--alcor-ncm', '198.51.100.254:9016')).toThrow(/--alcor-ncm: .*give --goalstate too/);
    expect(() => parse('--goalstate', '0.0.0.0', '--host-agent', '/opt/aca/AlcorControlAgent -a 10.0.0.5 -p 30014')).toThrow(/--goalstate: port 50001 is the one the --host-agent listens on/);
    expect(parse('--goalstate', '0.0.0.0', '--host-agent', '/opt/aca/AlcorControlAgent -s 50002')).toMatchObject({ goalstate: '0.0.0.0:50001' });
  });
});

describe('agent configuration: a vhost served from outside its namespace', () => {
  it('takes --netns, a namespace file that exists', () => {
    expect(parse('--netns', '/proc/self/ns/net')).toMatchObject({ netns: '/proc/self/ns/net' });
    expect(parse()).toMatchObject({ netns: undefined });
  });

  it('refuses a missing file, a host agent (it would run in the wrong namespace) and a hollow agent, naming --netns', () => {
    expect(() => parse('--netns', '/run/netns/no-such-merak-namespace')).toThrow(/--netns: \/run\/netns\/no-such-merak-namespace does not exist/);
    expect(() => parse('--netns', '/proc/self/ns/net', '--host-agent', '/bin/true')).toThrow(/--netns: a --host-agent runs in this process's own namespace/);
    expect(() => parse('--netns', '/proc/self/ns/net', '--hollow')).toThrow(/--netns: a hollow agent has no kernel work/);
  });
});
