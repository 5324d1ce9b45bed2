// The base of every typed error in Merak-TS: a stable code, context, and the cause kept reachable.

/** Stable codes; each maps to one gRPC status at the edge (grpc/status.ts). */
export type MerakErrorCode =
  | 'INVALID_ARGUMENT'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'NETLINK'
  | 'NETNS'
  | 'OVSDB'
  | 'OPENFLOW'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'CAPACITY'
  | 'UNIMPLEMENTED'
  | 'ALCOR'
  | 'FAILED_PRECONDITION'
  /** A control plane under test (its set-up or teardown) failed. */
  | 'CONTROL_PLANE'
  /** OVN's databases hold something other than what the topology needs. */
  | 'OVN'
  /** The coordinator's state store cannot be used. */
  | 'STORE'
  | 'INTERNAL';

export type ErrorContext = Record<string, string | number | boolean | undefined>;

export class MerakError extends Error {
  readonly code: MerakErrorCode;
  readonly context: ErrorContext;

  constructor(code: MerakErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** A request field that is wrong; `field` is the path a user can find ("operations[3].create.ip"). */
export class InvalidArgumentError extends MerakError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('INVALID_ARGUMENT', `${field}: ${message}`, { context: { field } });
    this.field = field;
  }
}

/** Narrows what a catch receives to a message, without losing non-Error throws. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
