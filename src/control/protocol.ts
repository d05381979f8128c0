/**
 * The control socket's protocol: one JSON object per line, both ways. A request carries an `id`
 * (any JSON number or string the client picks) and an `op`; its reply carries the same `id` and
 * either `ok: true` with a `result` or `ok: false` with an `error`. After `subscribe`, the server
 * also sends events (objects with `event` and no `id`) until the client disconnects.
 *
 * persistd (src/daemon/control-target.ts) implements `ControlTarget`; src/control/server.ts maps
 * requests onto it; src/control/client.ts is the one typed client that persistctl's verbs and its
 * TUI both use. Nothing here knows of FUSE or of the stage.
 */

/** The largest request line the server reads; a longer one gets `too-large` and is dropped. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** The default socket path; `--socket` (persistd, persistctl) and PERSIST_SOCKET override it. */
export const DEFAULT_SOCKET = '/run/persist/control.sock';

export type ChangeKind = 'added' | 'modified' | 'deleted' | 'metadata';
/** `pending`: only in RAM (the stage, or a snapshot being flushed); `persisted`: on the flash. */
export type ChangeState = 'pending' | 'persisted';

// ---- requests ------------------------------------------------------------------------------

export interface ChangesQuery {
  /** Only paths equal to this union path or under it (default '/'). */
  prefix?: string;
  /** Default: both. */
  state?: ChangeState;
  /** Default: every kind. */
  kinds?: ChangeKind[];
  /** Paging (entries are sorted by path): skip `offset`, return at most `limit` (default 1000, max 10000). */
  offset?: number;
  limit?: number;
}

export interface DiffQuery {
  path: string;
  /**
   * What to compare the current version with: `factory` (the lower, default) or `flash` (the last
   * persisted version: what `discard` would go back to).
   */
  base?: 'factory' | 'flash';
}

export interface TopQuery {
  /** Group paths by their first `depth` components (e.g. 2: /var/log); 0 or absent: per path. */
  depth?: number;
  /** At most this many rows, the heaviest first (default 20). */
  limit?: number;
}

export type Request =
  | { id: RequestId; op: 'status' }
  | ({ id: RequestId; op: 'changes' } & ChangesQuery)
  | ({ id: RequestId; op: 'diff' } & DiffQuery)
  /** No paths, or an empty list: everything. */
  | { id: RequestId; op: 'commit'; paths?: string[] }
  | { id: RequestId; op: 'discard'; paths?: string[] }
  | { id: RequestId; op: 'revert'; paths: string[] }
  | { id: RequestId; op: 'reset' }
  | ({ id: RequestId; op: 'top' } & TopQuery)
  | { id: RequestId; op: 'subscribe' };

export type RequestId = number | string;
export type Op = Request['op'];
export const OPS: readonly Op[] = ['status', 'changes', 'diff', 'commit', 'discard', 'revert', 'reset', 'top', 'subscribe'];

// ---- results -------------------------------------------------------------------------------

export interface Status {
  mode: 'direct' | 'staged' | 'volatile';
  mountpoint: string;
  pid: number;
  uptimeSeconds: number;
  layers: { lowers: string[]; upper: string | null; stage: string | null };
  /** Null in direct and volatile modes (nothing is staged for a flash). */
  flash: FlashHealth | null;
  /** A factory reset is scheduled: the next boot wipes the upper. */
  resetPending: boolean;
  /** Conditions an operator must know of, one line each (e.g. "the last flush failed: ENOSPC"). */
  warnings: string[];
}

export interface FlashHealth {
  /** Bytes applications wrote that are only in RAM. */
  pendingBytes: number;
  /** Paths with changes only in RAM. */
  pendingPaths: number;
  /** Age of the oldest change only in RAM, in seconds (0 when none). */
  oldestPendingSeconds: number;
  lastFlush: { success: boolean; timestamp: number; durationSeconds: number; bytes: number; error?: string } | null;
  flushes: number;
  flushFailures: number;
  /** The last flush failed: the data stays in RAM and is retried. */
  failing: boolean;
  /** Bytes applications wrote through the mount since start. */
  appBytesWritten: number;
  /** Bytes persist wrote to the flash since start (objects and journal). */
  flashBytesWritten: number;
  /** Bytes written by applications that never had to reach the flash (overwritten, deleted, volatile). */
  bytesAvoided: number;
  /** The flash device's own counters (/sys/block/…/stat), when it has them. */
  device: { name: string; writeRequests: number; sectorsWritten: number } | null;
  policy: { intervalMs: number; maxDirtyBytes: number; minIntervalMs: number; rateBytesPerSec: number };
}

export interface ChangeEntry {
  path: string;
  kind: ChangeKind;
  state: ChangeState;
  /** Bytes applications wrote to this path while it was pending (pending entries). */
  bytes?: number;
  /** A pending entry whose path also has a persisted change: that change's kind. */
  onFlash?: ChangeKind;
}

export interface ChangesPage {
  /** Entries matching the query, before paging. */
  total: number;
  offset: number;
  entries: ChangeEntry[];
}

export interface FileVersion {
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** sha256 of the content (regular files). */
  sha256?: string;
  /** Symlink target. */
  target?: string;
}

export interface Diff {
  path: string;
  base: 'factory' | 'flash';
  /** Null: the path does not exist on that side. */
  old: FileVersion | null;
  new: FileVersion | null;
  /**
   * `text`: `unified` holds a unified diff (empty when the contents are equal); `binary`: a side
   * is binary or too large for a text diff, compare `old` and `new`; `type`: not both regular files.
   */
  format: 'text' | 'binary' | 'type';
  unified?: string;
}

export interface CommitResult {
  /** The paths committed ([] = everything). */
  paths: string[];
  /** Batches flushed and their flash bytes. */
  batches: number;
  bytes: number;
}

export interface DiscardResult {
  /** Paths whose pending changes were dropped (the given paths that had any, and paths under them). */
  discarded: string[];
}

export interface RevertResult {
  /** Paths now back at the factory version (or gone, where the factory has none). */
  reverted: string[];
}

export interface ResetResult {
  /** The marker the boot code acts on. */
  marker: string;
  /** What the operator must do next. */
  next: string;
}

export interface TopEntry {
  /** A path, or with `depth` a directory prefix. */
  path: string;
  /** Bytes applications wrote there since start. */
  written: number;
  /** Bytes flushes wrote to the flash for it since start. */
  flushed: number;
  /** written − flushed, at least 0: what the stage saved the flash. */
  avoided: number;
}

export interface Top {
  depth: number;
  entries: TopEntry[];
  /** Totals over all paths, not just the rows shown. */
  totals: { written: number; flushed: number; avoided: number };
}

export interface Results {
  status: Status;
  changes: ChangesPage;
  diff: Diff;
  commit: CommitResult;
  discard: DiscardResult;
  revert: RevertResult;
  reset: ResetResult;
  top: Top;
  subscribe: { subscribed: true };
}

// ---- events ------------------------------------------------------------------------------

export type Event =
  | { event: 'flush-started'; seq: number; time: number }
  | { event: 'flush-progress'; seq: number; bytes: number; time: number }
  | { event: 'flush-finished'; seq: number; bytes: number; durationSeconds: number; time: number }
  | { event: 'flush-failed'; seq: number; error: string; time: number }
  /** Paths changed through the mount (at most one event per 500 ms, at most 100 paths named). */
  | { event: 'changed'; paths: string[]; more: number; time: number }
  | { event: 'error'; message: string; time: number };

// ---- replies -----------------------------------------------------------------------------

export type ErrorCode =
  /** Not JSON, not an object, or a field of the wrong type. */
  | 'bad-request'
  | 'too-large'
  | 'unknown-op'
  /** A path that is not absolute, contains `..` or NUL, or is otherwise not a union path. */
  | 'bad-path'
  /** The path does not exist (diff), or has nothing to act on. */
  | 'not-found'
  /** Files are open on the path: close them first. */
  | 'busy'
  /** The operation does not apply in this mode (e.g. commit with no flash). */
  | 'unsupported'
  /** The peer is neither root nor in the configured group. */
  | 'denied'
  /** The operation ran and failed (e.g. a flush the flash did not take). */
  | 'failed';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** What to do about it. */
  hint?: string;
}

export type Reply<O extends Op = Op> =
  | { id: RequestId; ok: true; result: Results[O] }
  | { id: RequestId | null; ok: false; error: ErrorBody };

/** An error a ControlTarget method throws to send a specific code (anything else is `failed`). */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * What the daemon offers the socket. Paths given to it are already normalised union paths
 * (absolute, no `..`, no trailing slash except '/'). Methods throw ControlError for user errors.
 */
export interface ControlTarget {
  status(): Status;
  changes(query: Required<Pick<ChangesQuery, 'prefix' | 'offset' | 'limit'>> & Pick<ChangesQuery, 'state' | 'kinds'>): Promise<ChangesPage>;
  diff(path: string, base: 'factory' | 'flash'): Promise<Diff>;
  commit(paths: string[]): Promise<CommitResult>;
  discard(paths: string[]): Promise<DiscardResult>;
  revert(paths: string[]): Promise<RevertResult>;
  reset(): Promise<ResetResult>;
  top(depth: number, limit: number): Top;
  /** Call `listener` for every event until the returned function is called. */
  subscribe(listener: (event: Event) => void): () => void;
}

/** The client side: what persistctl's verbs and TUI call (src/control/client.ts implements it). */
export interface Control {
  status(): Promise<Status>;
  changes(query?: ChangesQuery): Promise<ChangesPage>;
  diff(path: string, base?: 'factory' | 'flash'): Promise<Diff>;
  commit(paths?: string[]): Promise<CommitResult>;
  discard(paths?: string[]): Promise<DiscardResult>;
  revert(paths: string[]): Promise<RevertResult>;
  reset(): Promise<ResetResult>;
  top(query?: TopQuery): Promise<Top>;
  /** Events until `close()`; the listener also gets a final `error` event if the daemon goes away. */
  subscribe(listener: (event: Event) => void): Promise<void>;
  close(): void;
}
