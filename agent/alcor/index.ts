// Talking to Alcor: JSON calls with deadlines, safe retries and timing, and the port manager calls a VM needs.
export { type AlcorCall, AlcorError, AlcorHttp, type AlcorHttpOptions, type AlcorRequest, type AlcorResponse } from './alcor-http.js';
export { type AlcorPortSettings, AlcorPorts, type AllocatedPort } from './port-client.js';
