import { describe, expect, it } from 'vitest';
import { decodeEchoReply, encodeEchoRequest, internetChecksum } from './icmp.js';

describe('icmp codec', () => {
  it('encodes an echo request with a valid checksum', () => {
    // RFC 1071 by hand: 0x0800 + 0x1234 + 0x0001 + 0x6161 + 0x6161 = 0xdcf7, complement 0x2308.
    const req = encodeEchoRequest(0x1234, 1, Buffer.from('aaaa'));
    expect(req.toString('hex')).toBe('0800' + req.subarray(2, 4).toString('hex') + '12340001' + '61616161');
    expect(internetChecksum(req)).toBe(0);
    expect(req.readUInt16BE(2)).toBe(0x2308);
  });

  it('decodes a reply inside an IPv4 header and rejects other ICMP', () => {
    const icmp = encodeEchoRequest(7, 9, Buffer.from('hi'));
    icmp[0] = 0; // echo reply
    icmp.writeUInt16BE(0, 2);
    icmp.writeUInt16BE(internetChecksum(icmp), 2);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45; ip[9] = 1; ip.set([10, 1, 0, 5], 12);
    const reply = decodeEchoReply(Buffer.concat([ip, icmp]));
    expect(reply).toMatchObject({ source: '10.1.0.5', identifier: 7, sequence: 9 });
    expect(reply?.payload.toString()).toBe('hi');
    const request = Buffer.concat([ip, encodeEchoRequest(7, 9, Buffer.from('hi'))]);
    expect(decodeEchoReply(request)).toBeUndefined();
    const corrupt = Buffer.concat([ip, icmp]);
    corrupt[corrupt.length - 1] ^= 0xff;
    expect(decodeEchoReply(corrupt)).toBeUndefined();
  });
});
