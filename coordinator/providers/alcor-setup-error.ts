// A step of the Alcor set-up that failed for good, with what Alcor answered, so a failed run can
// say which object could not be made and why (matched by type; the answer is in the fields).
import { AlcorError, errorMessage } from '@merak/common';
import { ControlPlaneError } from './provider.js';

export class AlcorSetupError extends ControlPlaneError {
  /** HTTP status of the last answer; 0 when there was none. */
  readonly status: number;
  /** "POST /project/{project_id}/subnets" */
  readonly endpoint: string;
  /** Alcor's answer body (empty when none). */
  readonly body: string;

  constructor(
    /** What was being set up: "subnet vpc-1/subnet-1". */
    readonly step: string,
    cause: unknown,
  ) {
    const answer = cause instanceof AlcorError ? cause : undefined;
    super(`Alcor set-up of ${step} failed: ${errorMessage(cause)}`, [], { cause, code: 'ALCOR', context: { step, status: answer?.status ?? 0, endpoint: answer?.endpoint ?? '' } });
    this.status = cause instanceof AlcorError ? cause.status : 0;
    this.endpoint = cause instanceof AlcorError ? cause.endpoint : '';
    this.body = cause instanceof AlcorError ? cause.body : '';
  }
}
