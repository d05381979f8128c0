import { constants } from 'node:os';

/** An errno name the overlay may answer with, e.g. 'ENOENT'. */
export type ErrnoCode = keyof typeof constants.errno;

/**
 * A filesystem answer that is not success: what the kernel would return to the caller.
 * Overlay code throws these; the FUSE adapter turns them into negative errno values.
 */
export class FsError extends Error {
  readonly code: ErrnoCode;
  constructor(code: ErrnoCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
  }
}

export function fail(code: ErrnoCode, detail?: string): never {
  throw new FsError(code, detail);
}

/** The errno name of an error from `fs`, the native helper, or the overlay; undefined for bugs. */
export function errnoCode(err: unknown): ErrnoCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in constants.errno ? (code as ErrnoCode) : undefined;
}

/** True when `err` is the given errno (ENOENT checks read better this way). */
export function isErrno(err: unknown, code: ErrnoCode): boolean {
  return errnoCode(err) === code;
}

/** The negative errno FUSE expects; anything that is not an errno is a bug and becomes EIO. */
export function toNegativeErrno(err: unknown): number {
  const code = errnoCode(err);
  return code ? -constants.errno[code] : -constants.errno.EIO;
}
