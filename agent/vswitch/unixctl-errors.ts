// Typed failures of an OVS daemon's control socket (unixctl), told apart by class, never by text.
import { MerakError } from '@merak/common';

/** The daemon answered with an error, e.g. "bad MAC address" or an unknown command. */
export class UnixctlError extends MerakError {
  constructor(
    readonly path: string,
    readonly method: string,
    readonly params: readonly string[],
    /** The daemon's error text, without the newline it appends. */
    readonly text: string,
  ) {
    super('OVSDB', `${path}: ${[method, ...params].join(' ')}: ${text}`, { context: { path, method } });
  }
}

/**
 * The socket could not be used: `connect` (missing socket, refused; `errno` says which), `closed`
 * (by the daemon or by close() while calls were pending) or `protocol` (a reply we cannot read).
 */
export class UnixctlConnectionError extends MerakError {
  constructor(
    readonly path: string,
    readonly reason: 'connect' | 'closed' | 'protocol',
    detail: string,
    readonly errno?: string,
    cause?: unknown,
  ) {
    super('UNAVAILABLE', `${path}: ${detail}`, { context: { path, reason, errno }, cause });
  }
}

/** No answer in time; the connection stays usable and a late reply is dropped. */
export class UnixctlTimeoutError extends MerakError {
  constructor(readonly path: string, readonly method: string, readonly timeoutMs: number) {
    super('TIMEOUT', `${path}: ${method} got no answer in ${timeoutMs} ms`, { context: { path, method, timeoutMs } });
  }
}

/**
 * Neither place ovs-vswitchd puts its control socket exists. `tried` holds the fixed name and then
 * either the pid-named socket or, when the pid file is missing or unreadable, the pid file itself.
 */
export class VswitchdControlNotFoundError extends MerakError {
  constructor(readonly rundir: string, readonly tried: readonly [string, string]) {
    super('UNAVAILABLE', `no ovs-vswitchd control socket in ${rundir}: tried ${tried[0]} and ${tried[1]}`, { context: { rundir } });
  }
}
