// Errors of the netlink layer: a kernel refusal (NetlinkError, errno kept reachable), bytes that do
// not decode (NetlinkDecodeError), and a socket that can no longer answer (NetlinkSocketError).
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

const SYSTEM_ERRORS = getSystemErrorMap();

/** errno name and libuv's description: (17) -> ['EEXIST', 'file already exists']. */
export function errnoName(errno: number): { code: string; description: string } {
  const e = SYSTEM_ERRORS.get(-errno);
  return e ? { code: e[0], description: e[1] } : { code: `E${errno}`, description: `errno ${errno}` };
}

export const ERRNO = constants.errno;

export interface NetlinkErrorInit {
  /** Positive errno, as in errno.h. */
  readonly errno: number;
  /** The request's type name, e.g. 'RTM_NEWLINK'. */
  readonly requestType: string;
  /** What the request was about, e.g. a link name or '10.0.0.2/24 on ifindex 3'. */
  readonly object?: string | undefined;
  /** The kernel's extended-ACK message, if it gave one. */
  readonly extack?: string | undefined;
  /** Byte offset of the offending attribute in the request (NLMSGERR_ATTR_OFFS). */
  readonly extackOffset?: number | undefined;
  /** Stack of the caller that issued the request (the reply arrives on a later tick). */
  readonly callerStack?: string | undefined;
  readonly message?: string;
}

/** The kernel refused a request (NLMSG_ERROR with a negative errno), or the socket failed with an errno. */
export class NetlinkError extends Error {
  readonly errno: number;
  /** The errno's name, e.g. 'EEXIST'. */
  readonly code: string;
  readonly extack: string | undefined;
  readonly extackOffset: number | undefined;
  readonly requestType: string;
  readonly object: string | undefined;

  constructor(init: NetlinkErrorInit) {
    const { code, description } = errnoName(init.errno);
    const what = init.object ? `${init.requestType} ${init.object}` : init.requestType;
    super(init.message ?? `${what}: ${code} (${description})${init.extack ? `: ${init.extack}` : ''}`);
    this.name = 'NetlinkError';
    this.errno = init.errno;
    this.code = code;
    this.extack = init.extack;
    this.extackOffset = init.extackOffset;
    this.requestType = init.requestType;
    this.object = init.object;
    if (init.callerStack) this.stack = `${this.name}: ${this.message}\n${stackFrames(init.callerStack)}`;
  }
}

/** Bytes that are not a well-formed netlink message; `offset` is where decoding stopped. */
export class NetlinkDecodeError extends Error {
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(message);
    this.name = 'NetlinkDecodeError';
    this.offset = offset;
  }
}

export type NetlinkSocketFailure = 'closed' | 'decode';

/** The socket cannot answer a request: it was closed, or a reply did not decode. */
export class NetlinkSocketError extends Error {
  readonly reason: NetlinkSocketFailure;
  readonly requestType: string;
  constructor(reason: NetlinkSocketFailure, requestType: string, message: string, options: { cause?: unknown; callerStack?: string } = {}) {
    super(`${requestType}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetlinkSocketError';
    this.reason = reason;
    this.requestType = requestType;
    if (options.callerStack) this.stack = `${this.name}: ${this.message}\n${stackFrames(options.callerStack)}`;
  }
}

/** The frames of a captured stack, without its first ("Error") line. */
function stackFrames(stack: string): string {
  const nl = stack.indexOf('\n');
  return nl === -1 ? '' : stack.slice(nl + 1);
}

const NOT_FOUND: ReadonlySet<number> = new Set([ERRNO.ENOENT, ERRNO.ENODEV, ERRNO.ESRCH, ERRNO.EADDRNOTAVAIL]);

/** The object already exists (EEXIST). */
export function isExists(e: unknown): e is NetlinkError {
  return e instanceof NetlinkError && e.errno === ERRNO.EEXIST;
}

/**
 * The object is not there: ENODEV (link), EADDRNOTAVAIL (address), ESRCH (route), ENOENT
 * (neighbour, and some deletes).
 */
export function isNotFound(e: unknown): e is NetlinkError {
  return e instanceof NetlinkError && NOT_FOUND.has(e.errno);
}
