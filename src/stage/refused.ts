/**
 * A stage command that was refused because doing it now would lose or hide something: files open
 * on the path (`busy`), or a failed flush that must reach the flash first (`failing`). Says why and
 * what to do; the control socket passes both on.
 */
export class Refused extends Error {
  constructor(
    readonly reason: 'busy' | 'failing',
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
