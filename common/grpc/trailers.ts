// gRPC trailers both sides of the registration stream agree on.

/** Set by the coordinator when a newer registration of the same host replaces a stream. */
export const REPLACED_TRAILER = 'merak-replaced-by';
