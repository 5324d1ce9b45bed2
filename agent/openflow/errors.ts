// Errors of the OpenFlow layer. The codec throws OpenFlowEncodeError (a value it cannot put on the
// wire) and OpenFlowDecodeError (bytes that do not decode); the connection turns the switch's
// OFPT_ERROR replies, a closed socket, a failed connect or handshake and a timeout into the others.
import { MerakError, type ErrorContext, type MerakErrorCode } from '@merak/common';
import type { FlowMod } from './messages.js';

interface OpenFlowErrorOptions {
  readonly code?: MerakErrorCode;
  readonly context?: ErrorContext;
  readonly cause?: unknown;
  /** The stack of the caller whose request this error completes (it surfaces on a later tick). */
  readonly callerStack?: string | undefined;
}

/** The base of every OpenFlow error; its code is 'OPENFLOW' unless a subclass says otherwise. */
export class OpenFlowError extends MerakError {
  constructor(message: string, options: OpenFlowErrorOptions = {}) {
    super(options.code ?? 'OPENFLOW', message, { context: options.context, cause: options.cause });
    if (options.callerStack) this.stack = `${this.name}: ${this.message}\n${stackFrames(options.callerStack)}`;
  }
}

/** A value the encoder cannot put on the wire; `field` names it ("flow.match.ethDst"). */
export class OpenFlowEncodeError extends OpenFlowError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`, { code: 'INVALID_ARGUMENT', context: { field } });
    this.field = field;
  }
}

/** Bytes that are not a well-formed OpenFlow message; `offset` is where decoding stopped. */
export class OpenFlowDecodeError extends OpenFlowError {
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(message, { context: { offset } });
    this.offset = offset;
  }
}

/** The socket could not be reached (missing, refused): `path` says which. */
export class OpenFlowConnectError extends OpenFlowError {
  readonly path: string;
  constructor(path: string, message: string, cause?: unknown) {
    super(`${path}: ${message}`, { code: 'UNAVAILABLE', context: { path }, cause });
    this.path = path;
  }
}

/** The peer does not speak OpenFlow 1.3 (or refused our HELLO). */
export class OpenFlowVersionError extends OpenFlowError {
  readonly path: string;
  /** Wire versions the peer offered; empty when it refused with an error instead. */
  readonly peerVersions: readonly number[];
  constructor(path: string, message: string, peerVersions: readonly number[]) {
    super(`${path}: ${message}`, { code: 'FAILED_PRECONDITION', context: { path, peerVersions: peerVersions.join(',') } });
    this.path = path;
    this.peerVersions = peerVersions;
  }
}

/** No answer in time: the handshake, or a barrier after a batch. */
export class OpenFlowTimeoutError extends OpenFlowError {
  constructor(what: string, timeoutMs: number, callerStack?: string) {
    super(`${what}: no answer within ${timeoutMs} ms`, { code: 'TIMEOUT', context: { timeoutMs }, callerStack });
  }
}

/** The connection is gone: closed by us, or by the peer (vswitchd exited or restarted). */
export class OpenFlowClosedError extends OpenFlowError {
  readonly byPeer: boolean;
  constructor(path: string, byPeer: boolean, options: { cause?: unknown; callerStack?: string | undefined } = {}) {
    super(`${path}: ${byPeer ? 'the switch closed the connection' : 'the connection was closed'}`,
      { code: 'UNAVAILABLE', context: { path, byPeer }, cause: options.cause, callerStack: options.callerStack });
    this.byPeer = byPeer;
  }
}

/** One flow mod the switch refused, and why. */
export interface FlowFailure {
  readonly xid: number;
  /** The flow's label if it had one, else a short text of table, priority and match. */
  readonly flow: string;
  readonly label: string | undefined;
  readonly mod: FlowMod;
  readonly errorType: number;
  readonly errorCode: number;
  /** e.g. 'OFPET_BAD_ACTION'. */
  readonly typeName: string;
  /** e.g. 'OFPBAC_MATCH_INCONSISTENT'. */
  readonly codeName: string;
}

/**
 * The switch refused some flow mods of a batch. Without a bundle (`bundleId` undefined) the others
 * of the batch were applied; in a bundle none was (the bundle was discarded, or its commit failed).
 */
export class OpenFlowFlowError extends OpenFlowError {
  readonly failures: readonly FlowFailure[];
  readonly bundleId: number | undefined;
  constructor(failures: readonly FlowFailure[], total: number, callerStack?: string, bundleId?: number) {
    const list = failures.map((f) => `${f.flow}: ${f.typeName}/${f.codeName}`).join('; ');
    const scope = bundleId === undefined ? 'flow mods' : `flow mods of bundle ${bundleId}, so none was applied`;
    super(`the switch refused ${failures.length} of ${total} ${scope}: ${list}`, { context: { refused: failures.length, total, bundleId }, callerStack });
    this.failures = failures;
    this.bundleId = bundleId;
  }
}

/** The switch refused a bundle's open or commit itself (no flow to blame); nothing of it was applied. */
export class OpenFlowBundleError extends OpenFlowError {
  readonly bundleId: number;
  /** The refused request: 'open' or 'commit'. */
  readonly request: 'open' | 'commit';
  readonly typeName: string;
  readonly codeName: string;
  constructor(path: string, bundleId: number, request: 'open' | 'commit', names: { typeName: string; codeName: string }, callerStack?: string) {
    super(`${path}: the switch refused to ${request} bundle ${bundleId}: ${names.typeName}/${names.codeName}; nothing of it was applied`,
      { context: { path, bundleId, request }, callerStack });
    this.bundleId = bundleId;
    this.request = request;
    this.typeName = names.typeName;
    this.codeName = names.codeName;
  }
}

/** The frames of a captured stack, without its first ("Error") line. */
function stackFrames(stack: string): string {
  const nl = stack.indexOf('\n');
  return nl === -1 ? '' : stack.slice(nl + 1);
}
