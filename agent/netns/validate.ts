// Cheap input checks that name the offending field, done before anything is sent.
import { InvalidArgumentError } from '@merak/common';
import { AF, IFALIAS_MAX, IFNAMSIZ, type IpBytes, ipToBytes, isMac } from '../netlink/index.js';

export function checkLinkName(field: string, name: string): void {
  if (name.length === 0) throw new InvalidArgumentError(field, 'link name is empty');
  if (Buffer.byteLength(name) > IFNAMSIZ - 1) {
    throw new InvalidArgumentError(field, `link name '${name}' is longer than ${IFNAMSIZ - 1} bytes`);
  }
  // The kernel's dev_valid_name(): no '/', ':' or whitespace, not '.' or '..'.
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new InvalidArgumentError(field, `link name '${name}' is not valid (no '/', ':' or whitespace, not '.' or '..')`);
  }
}

export function checkMac(field: string, mac: string): void {
  if (!isMac(mac)) throw new InvalidArgumentError(field, `'${mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
}

export function checkMtu(field: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 1 || mtu > 0xffffffff) throw new InvalidArgumentError(field, `MTU ${mtu} is not a positive integer`);
}

export function checkAlias(field: string, alias: string): void {
  if (Buffer.byteLength(alias) > IFALIAS_MAX) throw new InvalidArgumentError(field, `alias is longer than ${IFALIAS_MAX} bytes`);
}

export function checkIndex(field: string, index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) throw new InvalidArgumentError(field, `ifindex ${index} is not a positive integer`);
}

export function checkFd(field: string, fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new InvalidArgumentError(field, `${fd} is not a file descriptor`);
}

export function checkIp(field: string, ip: string): IpBytes {
  try {
    return ipToBytes(ip, field);
  } catch {
    throw new InvalidArgumentError(field, `'${ip}' is not an IPv4 or IPv6 address`);
  }
}

export function checkPrefixLength(field: string, prefixLength: number, family: number): void {
  const max = family === AF.INET ? 32 : 128;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) {
    throw new InvalidArgumentError(field, `prefix length ${prefixLength} is not in 0..${max}`);
  }
}
