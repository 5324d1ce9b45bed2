import { describe, expect, it } from 'vitest';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from './addresses.js';

describe('addresses', () => {
  it('round-trips IPv4 and IPv6 in their canonical text forms', () => {
    for (const ip of ['10.1.2.3', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::e0a2:72ff:fe22:1225', 'ff02::1:ff22:1225', '2001:db8::', '2001:db8:0:1:1:1:1:1', '1:0:0:2::3']) {
      expect(bytesToIp(ipToBytes(ip).bytes)).toBe(ip);
    }
  });

  it('parses non-canonical IPv6 and an embedded IPv4 tail', () => {
    expect(bytesToIp(ipToBytes('FE80:0:0:0:0:0:0:1').bytes)).toBe('fe80::1');
    expect(bytesToIp(ipToBytes('::ffff:10.0.0.1').bytes)).toBe('::ffff:a00:1');
    expect(ipToBytes('10.0.0.1').family).toBe(2);
    expect(ipToBytes('::1').family).toBe(10);
  });

  it('names the field when the text is not an address', () => {
    expect(() => ipToBytes('10.0.0.256', 'gateway')).toThrow(/gateway: '10.0.0.256'/);
    expect(() => macToBytes('02:00:00:00:00', 'peerMac')).toThrow(/peerMac/);
  });

  it('converts MACs both ways', () => {
    expect(macToBytes('02:AB:00:00:00:01').toString('hex')).toBe('02ab00000001');
    expect(bytesToMac(Buffer.from('02ab00000001', 'hex'))).toBe('02:ab:00:00:00:01');
  });
});
