/**
 * From a request line to a ControlTarget call: every field's type is checked, paths are normalised
 * (src/control/paths.ts), defaults and caps applied, so the target sees only well-formed calls.
 * A malformed request throws ControlError (`bad-request`, `unknown-op`, `bad-path`) carrying the
 * request's id when there is a usable one.
 */
import { describeValue, normaliseUnionPath } from './paths.js';
import { ControlError, OPS, type ChangeKind, type ControlTarget, type Op, type RequestId, type Results } from './protocol.js';

export const CHANGES_DEFAULT_LIMIT = 1000;
export const CHANGES_MAX_LIMIT = 10_000;
export const TOP_DEFAULT_LIMIT = 20;
/** Not in the protocol's text; keeps one reply bounded like `changes`. */
export const TOP_MAX_LIMIT = 10_000;

const KINDS: readonly ChangeKind[] = ['added', 'modified', 'deleted', 'metadata'];

/** A checked request, ready to run against a target. */
export interface ParsedRequest {
  id: RequestId;
  op: Op;
  run(target: ControlTarget): Promise<Results[Op]>;
}

/** A request line that cannot be run; `id` is null when the line had no usable id. */
export class RequestRejected extends Error {
  constructor(
    readonly id: RequestId | null,
    readonly error: ControlError,
  ) {
    super(error.message);
  }
}

type Fields = Record<string, unknown>;

export function parseRequest(line: string): ParsedRequest {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (err) {
    throw rejected(null, `the line is not JSON (${(err as Error).message})`);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw rejected(null, `a request is a JSON object, got ${describeValue(message)}`);
  }
  const fields = message as Fields;
  const id = fields['id'];
  if (!isRequestId(id)) throw rejected(null, `the request's id must be a number or a string, got ${describeValue(id)}`);
  const op = fields['op'];
  if (typeof op !== 'string') throw rejected(id, `the request's op must be a string, got ${describeValue(op)}`);
  if (!(OPS as readonly string[]).includes(op)) {
    throw new RequestRejected(id, new ControlError('unknown-op', `unknown op ${JSON.stringify(op)}`, `the ops are: ${OPS.join(', ')}`));
  }
  try {
    return { id, op: op as Op, run: bind(op as Op, fields) };
  } catch (err) {
    if (err instanceof ControlError) throw new RequestRejected(id, err);
    throw err;
  }
}

/** Checks the op's fields now; the returned function calls the target. */
function bind(op: Op, f: Fields): (target: ControlTarget) => Promise<Results[Op]> {
  switch (op) {
    case 'status':
      return async (t) => t.status();
    case 'changes': {
      const query = {
        prefix: f['prefix'] === undefined ? '/' : normaliseUnionPath(f['prefix'], 'prefix'),
        offset: integer(f, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
        limit: Math.min(integer(f, 'limit', CHANGES_DEFAULT_LIMIT, 0, Number.MAX_SAFE_INTEGER), CHANGES_MAX_LIMIT),
        ...optional('state', oneOf(f, 'state', ['pending', 'persisted'] as const)),
        ...optional('kinds', kinds(f)),
      };
      return (t) => t.changes(query);
    }
    case 'diff': {
      const path = normaliseUnionPath(required(f, 'path'), 'path');
      const base = oneOf(f, 'base', ['factory', 'flash'] as const) ?? 'factory';
      return (t) => t.diff(path, base);
    }
    case 'commit': {
      const paths = pathList(f, false);
      return (t) => t.commit(paths);
    }
    case 'discard': {
      const paths = pathList(f, false);
      return (t) => t.discard(paths);
    }
    case 'revert': {
      const paths = pathList(f, true);
      return (t) => t.revert(paths);
    }
    case 'reset':
      return (t) => t.reset();
    case 'top': {
      const depth = integer(f, 'depth', 0, 0, MAX_DEPTH);
      const limit = Math.min(integer(f, 'limit', TOP_DEFAULT_LIMIT, 1, Number.MAX_SAFE_INTEGER), TOP_MAX_LIMIT);
      return async (t) => t.top(depth, limit);
    }
    case 'subscribe':
      // The connection handles subscribe itself: it owns the listener's lifetime.
      return async () => ({ subscribed: true as const });
  }
}

/** More components than a 4096-byte path can have. */
const MAX_DEPTH = 2048;

function isRequestId(id: unknown): id is RequestId {
  return (typeof id === 'number' && Number.isFinite(id)) || typeof id === 'string';
}

function rejected(id: RequestId | null, message: string): RequestRejected {
  return new RequestRejected(id, badRequest(message));
}

function badRequest(message: string): ControlError {
  return new ControlError('bad-request', message, 'see src/control/protocol.ts for the requests and their fields');
}

function required(f: Fields, name: string): unknown {
  if (f[name] === undefined) throw badRequest(`${String(f['op'])} needs a "${name}" field`);
  return f[name];
}

function integer(f: Fields, name: string, fallback: number, min: number, max: number): number {
  const value = f[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw badRequest(`"${name}" must be an integer ${range}, got ${describeValue(value)}`);
  }
  return value;
}

function oneOf<T extends string>(f: Fields, name: string, allowed: readonly T[]): T | undefined {
  const value = f[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw badRequest(`"${name}" must be one of ${allowed.join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

function kinds(f: Fields): ChangeKind[] | undefined {
  const value = f['kinds'];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((kind) => typeof kind === 'string' && (KINDS as readonly string[]).includes(kind))) {
    throw badRequest(`"kinds" must be an array of ${KINDS.join(', ')}, got ${JSON.stringify(value).slice(0, 100)}`);
  }
  return value as ChangeKind[];
}

/** `paths`: absent or a list of union paths, normalised; `atLeastOne` for revert. */
function pathList(f: Fields, atLeastOne: boolean): string[] {
  const value = atLeastOne ? required(f, 'paths') : (f['paths'] ?? []);
  if (!Array.isArray(value)) throw badRequest(`"paths" must be an array of union paths, got ${describeValue(value)}`);
  if (atLeastOne && value.length === 0) throw badRequest(`${String(f['op'])} needs at least one path`);
  return value.map((path, i) => normaliseUnionPath(path, `paths[${i}]`));
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
