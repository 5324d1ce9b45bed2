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
