/**
 * User errors versus bugs. A UserError is something the person running persist can fix (a missing
 * directory, a busy mountpoint): it is shown as one line that says what to do, without a stack.
 * Anything else is a bug and is shown with its stack.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** What to do about it, shown after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof UserError) return err.hint ? `${err.message}; ${err.hint}` : err.message;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
