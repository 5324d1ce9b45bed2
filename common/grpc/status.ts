// The one place where typed errors become gRPC statuses.
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { MerakError, type MerakErrorCode, errorMessage } from '../errors.js';

const BY_CODE: Record<MerakErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  CONFLICT: status.ALREADY_EXISTS,
  NOT_FOUND: status.NOT_FOUND,
  NETLINK: status.INTERNAL,
  NETNS: status.INTERNAL,
  OVSDB: status.UNAVAILABLE,
  // A flow the switch refused or a protocol fault: our bug, not worth a retry. A lost connection
  // is UNAVAILABLE, a timeout TIMEOUT (their own codes).
  OPENFLOW: status.INTERNAL,
  TIMEOUT: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  CAPACITY: status.RESOURCE_EXHAUSTED,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  ALCOR: status.UNAVAILABLE,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  // Another system (the control plane under test) failed, as ALCOR and OVSDB.
  CONTROL_PLANE: status.UNAVAILABLE,
  OVN: status.UNAVAILABLE,
  STORE: status.INTERNAL,
  INTERNAL: status.INTERNAL,
};

/** Any error as a gRPC status: a MerakError by its code, anything else INTERNAL; the message is the details. */
export function toServiceError(e: unknown): ServiceError {
  const code = e instanceof MerakError ? BY_CODE[e.code] : status.INTERNAL;
  const details = errorMessage(e);
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** A gRPC status made here (not from a typed error): an agent's reply, a refused call. */
export function statusError(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}
