// Talking to Alcor: JSON calls with deadlines, bounded retries and timing, creates that are safe to
// repeat, and the port manager calls a VM needs.
export { type AlcorCall, AlcorError, AlcorHttp, type AlcorHttpOptions, type AlcorRequest, type AlcorResponse } from './alcor-http.js';
export { type CreateOrAdopt, createOrAdopt } from './create-or-adopt.js';
export { AlcorPortReplacedError, type AlcorPortSettings, AlcorPorts, type AllocatedPort } from './port-client.js';
export { DEFAULT_BASE_MS, DEFAULT_MAX_DELAY_MS, type RetryEvent, type RetryPolicy, backoffMs, lookFor } from './retry.js';
