// The operations the differential test performs, as plain JSON (they cross a pipe to the executor
// child). Paths are relative to the union's root and never contain "..", and generated symlink
// targets never climb either, so no operation can reach outside the union it runs on.

/**
 * Content is described, not carried: `length` bytes from contentBytes(length, seed), or a short
 * literal value (e.g. a well-formed security.capability) as hex.
 */
export type Content = { length: number; seed: number } | { hex: string };

/** How `create` opens its file (all with O_CREAT|O_WRONLY). */
export type CreateMode = 'plain' | 'trunc' | 'append' | 'excl';

export type AccessMode = 'F' | 'R' | 'W' | 'X';

export type Op =
  | { kind: 'create'; path: string; how: CreateMode; mode: number; content: Content }
  | { kind: 'writeAt'; path: string; offset: number; content: Content }
  | { kind: 'read'; path: string }
  | { kind: 'stat'; path: string }
  | { kind: 'lstat'; path: string }
  | { kind: 'readdir'; path: string }
  | { kind: 'mkdir'; path: string; mode: number }
  | { kind: 'rmdir'; path: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'link'; from: string; to: string }
  | { kind: 'symlink'; target: string; path: string }
  | { kind: 'readlink'; path: string }
  | { kind: 'chmod'; path: string; mode: number }
  | { kind: 'chown'; path: string; uid: number; gid: number; noDereference: boolean }
  | { kind: 'truncate'; path: string; size: number }
  | { kind: 'utimes'; path: string; atime: number; mtime: number }
  | { kind: 'setxattr'; path: string; name: string; content: Content; noDereference: boolean }
  | { kind: 'getxattr'; path: string; name: string; noDereference: boolean }
  | { kind: 'listxattr'; path: string; noDereference: boolean }
  | { kind: 'removexattr'; path: string; name: string; noDereference: boolean }
  | { kind: 'mkfifo'; path: string; mode: number }
  | { kind: 'mknod'; path: string; mode: number; major: number; minor: number }
  | { kind: 'access'; path: string; mode: AccessMode }
  | { kind: 'rmrf'; path: string }
  | { kind: 'openUnlinkRead'; path: string }
  | { kind: 'openForWrite'; path: string }
  | { kind: 'readAcrossCopyUp'; path: string; content: Content }
  /**
   * Open `path` for write and write, rename its ancestor `dir` to `to`, pause (staged mode freezes
   * and flushes meanwhile), write again through the same handle, then read the file by its name.
   */
  | { kind: 'writeAcrossRename'; path: string; dir: string; to: string; content: Content }
  | { kind: 'statfsNameMax'; path: string };

export type OpKind = Op['kind'];

/** One generated step: an operation and the uid (gid = uid) that performs it. */
export interface Step {
  uid: number;
  op: Op;
}

/** What the executor reports: a normalized value, or the errno name the operation failed with. */
export type OpResult = { ok: true; value: unknown } | { ok: false; code: string };

/** A request on the executor's stdin: run `op` with paths under `root`. */
export interface ExecutorRequest {
  id: number;
  root: string;
  /** `snapshot` walks the whole tree; `allXattrs` includes trusted.* (for auditing an upper). */
  op: Op | { kind: 'snapshot'; allXattrs?: boolean };
}

export interface ExecutorResponse {
  id: number;
  result: OpResult;
}

/** Callers the test uses: root, the owner of the lower's home dir, and a stranger. */
export const TEST_UIDS = [0, 1000, 1001] as const;
