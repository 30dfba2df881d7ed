/** A step refused for its input: retrying cannot help, so engines do not retry it. */
export class StepInputError extends Error {
  override name = 'StepInputError';
}

/**
 * A policy denied the step. Keeps the name `StepInputError` (inherited) on purpose: that is the
 * error type both engines are told never to retry, and a denial does not change on retry.
 */
export class StepPolicyDenied extends StepInputError {
  readonly reason = 'POLICY_DENIED';
  constructor(
    message: string,
    readonly policy: string,
    readonly reasons: string[],
  ) {
    super(message);
  }
}

/** The policy engine could not decide: the step is denied (fail-closed) but MAY be retried. */
export class StepPolicyUnavailable extends Error {
  override name = 'StepPolicyUnavailable';
  readonly reason = 'POLICY_UNAVAILABLE';
  constructor(
    message: string,
    readonly policy: string,
  ) {
    super(message);
  }
}
