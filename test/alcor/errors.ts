// Alcor's errors as a client sees them: a status and Spring Boot's default error JSON
// (Alcor's REST API, docs/alcor.md "Errors"). Handlers throw AlcorHttpError; the server turns it into
// the body below, in the flavour of the Spring Boot version the answering service runs.
import { STATUS_CODES } from 'node:http';
import type { AlcorService } from './entities.js';

/** A request that Alcor answers with an error status. `message` is what Spring puts in the body. */
export class AlcorHttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'AlcorHttpError';
    this.status = status;
  }
}

/**
 * Spring Boot's error body. The SG manager runs Spring Boot 2.3, which leaves `message` empty by
 * default and (with Jackson 2.11) writes the zone as "+00:00"; the other services run 2.1–2.2
 * and write the reason (or the exception message) and "+0000".
 */
export interface SpringErrorBody {
  timestamp: string;
  status: number;
  error: string;
  message: string;
  path: string;
}

export function springErrorBody(service: AlcorService | undefined, status: number, message: string, path: string, now = new Date()): SpringErrorBody {
  const boot23 = service === 'sg';
  const iso = now.toISOString(); // 2023-03-31T12:00:00.000Z
  const timestamp = `${iso.slice(0, 23)}${boot23 ? '+00:00' : '+0000'}`;
  return { timestamp, status, error: STATUS_CODES[status] ?? 'Unknown', message: boot23 ? '' : message, path };
}

/** Spring's message for an exception that carries none (a NullPointerException, say). */
export const NO_MESSAGE = 'No message available';
