import { describe, expect, it } from 'vitest';
import { attr, attributesLength, decodeAttributes, encodeAttributes, read } from './attributes.js';
import { AF, IFLA, IFLA_INET6 } from './constants.js';
import { NetlinkDecodeError } from './errors.js';

describe('attributes', () => {
  it('encodes IFLA_AF_SPEC{AF_INET6{ADDR_GEN_MODE=1}} as ip link set … addrgenmode none does', () => {
    // Bytes from the captured request (testdata/captured.ts linkSetAddrGenModeNone, after the ifinfomsg).
    const bytes = encodeAttributes([attr.nested(IFLA.AF_SPEC, [attr.nested(AF.INET6, [attr.u8(IFLA_INET6.ADDR_GEN_MODE, 1)])])]);
    expect(bytes.toString('hex')).toBe('10001a000c000a00050008000100' + '0000');
  });

  it('pads each attribute to 4 bytes, with the length excluding the padding', () => {
    const bytes = encodeAttributes([attr.string(IFLA.IFNAME, 'v0'), attr.u32(IFLA.MTU, 1400), attr.bytes(IFLA.ADDRESS, Buffer.from('020000000001', 'hex'))]);
    expect(bytes.toString('hex')).toBe('0700030076300000' + '0800040078050000' + '0a000100020000000001' + '0000');
    expect(attributesLength([attr.string(IFLA.IFNAME, 'v0')])).toBe(8);
  });

  it('decodes what it encodes, nested included', () => {
    const bytes = encodeAttributes([attr.u8(1, 7), attr.nested(2, [attr.u16(3, 0xbeef), attr.s32(4, -5)]), attr.string(5, 'hello')]);
    const [a, n, s] = decodeAttributes(bytes);
    expect(read.u8(a!, 'a')).toBe(7);
    const [c1, c2] = decodeAttributes(n!.data);
    expect(read.u16(c1!, 'c1')).toBe(0xbeef);
    expect(read.s32(c2!, 'c2')).toBe(-5);
    expect(read.string(s!)).toBe('hello');
  });

  it('masks NLA_F_NESTED and NLA_F_NET_BYTEORDER out of the type', () => {
    const bytes = Buffer.from('0800' + '0280' + '01000000', 'hex');
    expect(decodeAttributes(bytes)[0]!.type).toBe(2);
  });

  it('rejects a length below the header or past the end, with the offset', () => {
    expect(() => decodeAttributes(Buffer.from('02000100', 'hex'))).toThrow(NetlinkDecodeError);
    const err = (() => {
      try {
        decodeAttributes(Buffer.from('0800010001000000' + '0c00020001000000', 'hex'));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(NetlinkDecodeError);
    expect((err as NetlinkDecodeError).offset).toBe(8);
  });

  it('refuses a short numeric payload instead of reading garbage', () => {
    const [a] = decodeAttributes(Buffer.from('0600040001020000', 'hex'));
    expect(() => read.u32(a!, 'IFLA_MTU')).toThrow(/IFLA_MTU: expected 4 bytes, got 2/);
  });
});
