// A create in Alcor that is safe to try again. Alcor has no conditional create: a POST whose id
// exists replaces the object (its cache `put`), so a blind retry of a create whose first attempt
// landed late would overwrite the second with new addresses. Ids are the caller's, so every
// failed attempt is followed by a look-up of that id: what is there is adopted. After a timeout
// the first attempt may still be on its way in; it is waited for (looked up again for `settleMs`)
// before anything is sent again. Only a transient failure (no answer, 5xx, 429) is retried; any
// other answer is thrown with its status and body.
import { AlcorError, type AlcorHttp } from './alcor-http.js';
import { lookFor } from './retry.js';

export interface CreateOrAdopt<T> {
  /** "POST /project/{project_id}/ports": for the retry log. */
  readonly endpoint: string;
  /** Its retry policy and retry listener are used. */
  readonly http: AlcorHttp;
  /** How long a timed-out create may still land (its own deadline is a fair guess). */
  readonly settleMs: number;
  /** The object by its id, or undefined. */
  readonly lookup: () => Promise<T | undefined>;
  /** One attempt; `retry` marks the call as a repeat in the report. */
  readonly create: (retry: boolean) => Promise<T>;
}

export async function createOrAdopt<T>(o: CreateOrAdopt<T>): Promise<{ readonly value: T; readonly how: 'made' | 'found' }> {
  const { retries } = o.http.policy;
  for (let attempt = 0; ; attempt++) {
    let failure: AlcorError;
    try {
      return { value: await o.create(attempt > 0), how: 'made' };
    } catch (e) {
      if (!(e instanceof AlcorError)) throw e;
      failure = e;
    }
    // Whatever the failure, the attempt may have done its work (an answer lost on the way back).
    const found = await o.lookup().catch(() => undefined);
    if (found !== undefined) return { value: found, how: 'found' };
    if (!failure.transient) throw failure.afterAttempts(attempt + 1);
    if (failure.timedOut) {
      const late = await lookFor(() => o.lookup().catch(() => undefined), o.settleMs, o.http.policy);
      if (late !== undefined) return { value: late, how: 'found' };
    }
    if (attempt >= retries) throw failure.afterAttempts(attempt + 1);
    await o.http.retryWait(o.endpoint, attempt + 1, failure);
  }
}
