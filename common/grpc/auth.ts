// Bearer-token authentication for every method of a service implementation.
import { timingSafeEqual, createHash } from 'node:crypto';
import { status, type Metadata, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { statusError } from './status.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** True when the metadata carries `authorization: Bearer <token>`; compared in constant time. */
export function hasToken(metadata: Metadata, token: string): boolean {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}

type AnyCall = { metadata: Metadata; emit(event: 'error', e: Error): boolean; destroy?: (e?: Error) => void };

/** Wraps each handler so a call without the token ends with UNAUTHENTICATED before it runs. */
export function requireToken<T extends UntypedServiceImplementation>(impl: T, token: string): T {
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(impl)) {
    wrapped[name] = ((call: AnyCall, callback?: (e: Error | null) => void) => {
      if (!hasToken(call.metadata, token)) {
        const err = statusError(status.UNAUTHENTICATED, 'missing or wrong bearer token');
        if (callback) callback(err);
        else call.emit('error', err);
        return;
      }
      (handler as (c: AnyCall, cb?: (e: Error | null) => void) => void)(call, callback);
    }) as UntypedServiceImplementation[string];
  }
  return wrapped as T;
}
