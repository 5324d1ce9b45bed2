import { describe, expect, it } from 'vitest';
import { ERRNO, NetlinkDecodeError, NetlinkError, errnoName, isExists, isNotFound } from './errors.js';

describe('errors', () => {
  it('keeps errno, its name, the request, the object and the extack text', () => {
    const e = new NetlinkError({ errno: 17, requestType: 'RTM_NEWADDR', object: '10.1.2.3/24 on ifindex 3', extack: 'ipv4: Address already assigned' });
    expect(e).toBeInstanceOf(Error);
    expect(e.errno).toBe(17);
    expect(e.code).toBe('EEXIST');
    expect(e.requestType).toBe('RTM_NEWADDR');
    expect(e.object).toBe('10.1.2.3/24 on ifindex 3');
    expect(e.message).toBe('RTM_NEWADDR 10.1.2.3/24 on ifindex 3: EEXIST (file already exists): ipv4: Address already assigned');
  });

  it('appends the caller stack instead of the socket callback stack', () => {
    const callerStack = new Error().stack!;
    const e = new NetlinkError({ errno: ERRNO.ENODEV, requestType: 'RTM_DELLINK', callerStack });
    expect(e.stack).toContain('NetlinkError: RTM_DELLINK: ENODEV');
    expect(e.stack).toContain('errors.test.ts');
  });

  it('classifies exists and not-found errnos', () => {
    const of = (errno: number) => new NetlinkError({ errno, requestType: 'RTM_NEWLINK' });
    expect(isExists(of(ERRNO.EEXIST))).toBe(true);
    expect(isExists(of(ERRNO.ENODEV))).toBe(false);
    for (const errno of [ERRNO.ENODEV, ERRNO.ENOENT, ERRNO.ESRCH, ERRNO.EADDRNOTAVAIL]) expect(isNotFound(of(errno))).toBe(true);
    expect(isNotFound(of(ERRNO.EINVAL))).toBe(false);
    expect(isNotFound(new Error('ENODEV'))).toBe(false);
    expect(isExists(new NetlinkDecodeError('x'))).toBe(false);
  });

  it('names errnos the platform knows and invents nothing for others', () => {
    expect(errnoName(97).code).toBe('EAFNOSUPPORT');
    expect(errnoName(99999).code).toBe('E99999');
  });
});
