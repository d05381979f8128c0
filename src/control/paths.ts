/**
 * Union paths as the control socket accepts them. A client names a path on the mount as the
 * applications see it ("/etc/hostname"), never a host path. Anything that could climb out of the
 * union (`..`) is refused rather than normalised away: `/../etc/shadow` is a mistake or an attack,
 * and quietly serving `/etc/shadow` for it would hide both.
 */
import { ControlError } from './protocol.js';

/** PATH_MAX: no union path can be longer. */
export const MAX_UNION_PATH_LENGTH = 4096;

const VALID = 'a union path starts with / and names a path on the mount as applications see it, e.g. /etc/hostname (no .. segments, no NUL)';

/**
 * The canonical form of a union path: `//` and `/./` collapsed, no trailing '/' (except the root
 * itself). Throws ControlError `bad-path` for anything that is not a union path; `what` names the
 * field in the message (e.g. "prefix").
 */
export function normaliseUnionPath(input: unknown, what = 'path'): string {
  if (typeof input !== 'string') throw badPath(`${what} must be a string, got ${describeValue(input)}`);
  if (input.includes('\0')) throw badPath(`${what} ${quote(input)} contains a NUL byte`);
  if (!input.startsWith('/')) throw badPath(`${what} ${quote(input)} is not absolute`);
  const segments = input.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw badPath(`${what} ${quote(input)} contains a '..' segment`);
  const normalised = `/${segments.join('/')}`;
  if (Buffer.byteLength(normalised) > MAX_UNION_PATH_LENGTH) {
    throw badPath(`${what} is ${Buffer.byteLength(normalised)} bytes long; the limit is ${MAX_UNION_PATH_LENGTH}`);
  }
  return normalised;
}

function badPath(message: string): ControlError {
  return new ControlError('bad-path', message, VALID);
}

/** The path as JSON quotes it (control characters visible), shortened for a one-line message. */
function quote(path: string): string {
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return JSON.stringify(shown);
}

/** A JSON value as a message names it: "an object", "number 3", "nothing" (a missing field). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const shown = JSON.stringify(value);
  return `${typeof value} ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}`;
}
