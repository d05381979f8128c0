/**
 * The control socket's server: a Unix socket that maps request lines onto a ControlTarget
 * (src/control/connection.ts handles each connection, src/control/requests.ts each request).
 *
 * Access: the socket file is 0600 (root, or whoever runs persistd), or 0660 owned by a group
 * whose members may use it; every connection's peer is checked again with SO_PEERCRED, so a
 * socket opened up by a careless chmod still refuses strangers.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Connection } from './connection.js';
import { encodeLine } from './framing.js';
import { peerOf, refusal, resolveGroup, type PeerCredentials } from './peer.js';
import type { ControlTarget, Reply } from './protocol.js';

export interface ControlServerOptions {
  socketPath: string;
  /** A group name (or gid) whose members may use the socket: mode 0660 instead of 0600. */
  group?: string;
  target: ControlTarget;
  log: (line: string) => void;
}

export interface ControlServer {
  /** The socket's absolute path. */
  readonly path: string;
  /** Stops listening, ends every connection (and subscription), removes the socket file. */
  close(): Promise<void>;
}

/** sockaddr_un's sun_path holds 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long a server already on the path has to answer before we take it for dead. */
const PROBE_TIMEOUT_MS = 1000;

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const path = resolve(options.socketPath);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`the control socket path ${path} is ${Buffer.byteLength(path)} bytes long; a Unix socket path has at most ${MAX_SOCKET_PATH_BYTES}: choose a shorter --socket`);
  }
  const gid = options.group === undefined ? null : resolveGroup(options.group);
  prepareDirectory(dirname(path));
  await removeStaleSocket(path);

  const connections = new Set<Connection>();
  /** Refused peers, between their denied reply and their disconnect. */
  const refused = new Set<Socket>();
  const ownUid = process.getuid?.() ?? 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accept(socket, options, ownUid, gid, connections, refused);
  });
  await listen(server, path);
  // Accept failures (EMFILE) must not crash the daemon; the server keeps listening.
  server.on('error', (err) => options.log(`persistd: control socket ${path}: ${err.message}`));
  const identity = lstatSync(path);
  try {
    if (gid === null) {
      chmodSync(path, 0o600);
    } else {
      chownSync(path, -1, gid);
      chmodSync(path, 0o660);
    }
  } catch (err) {
    server.close();
    throw new Error(`cannot set the owner and mode of the control socket ${path}: ${(err as Error).message}`);
  }

  let closing: Promise<void> | null = null;
  return {
    path,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        for (const connection of connections) connection.close();
        for (const socket of refused) socket.destroy();
      }).then(() => removeIfOurs(path, identity));
      return closing;
    },
  };
}

function accept(socket: Socket, options: ControlServerOptions, ownUid: number, gid: number | null, connections: Set<Connection>, refused: Set<Socket>): void {
  let peer: PeerCredentials;
  let why: string | null;
  try {
    peer = peerOf(socket);
    why = refusal(peer, ownUid, gid);
  } catch (err) {
    peer = { pid: 0, uid: -1, gid: -1 };
    why = `its credentials are unknown (${(err as Error).message})`;
  }
  const name = `pid ${peer.pid} (uid ${peer.uid}, gid ${peer.gid})`;
  if (why !== null) {
    options.log(`persistd: control: refused a connection from ${name}: ${why}`);
    const hint = gid === null ? 'run persistctl as root' : `run persistctl as root or as a member of group ${options.group}`;
    const reply: Reply = { id: null, ok: false, error: { code: 'denied', message: `permission denied: ${why}`, hint } };
    socket.on('error', () => undefined);
    // Whatever it sent is discarded; reading it is what lets its end (and our close) arrive.
    socket.resume();
    socket.end(encodeLine(reply));
    const timer = setTimeout(() => socket.destroy(), PROBE_TIMEOUT_MS);
    refused.add(socket);
    socket.on('close', () => {
      clearTimeout(timer);
      refused.delete(socket);
    });
    return;
  }
  const connection = new Connection(socket, options.target, options.log, name, () => connections.delete(connection));
  connections.add(connection);
}

/** The socket's directory; one we create is 0755 so that a group's members can reach the socket. */
function prepareDirectory(dir: string): void {
  if (existsSync(dir)) return;
  try {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
  } catch (err) {
    throw new Error(`cannot create the control socket's directory ${dir}: ${(err as Error).message}`);
  }
}

/**
 * A socket file left by a daemon that died is removed; one a live server answers on is not
 * ours to take (another persistd, or this one started twice).
 */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot check ${path}: ${(err as Error).message}`);
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket: remove it, or choose another control socket path (--socket)`);
  const answer = await probe(path);
  if (answer.kind === 'stale') {
    unlinkSync(path);
  } else if (answer.kind === 'live') {
    throw new Error(`a server already listens on ${path}${answer.pid ? ` (pid ${answer.pid})` : ''}: stop it, or choose another control socket path (--socket)`);
  } else {
    throw new Error(`cannot tell whether a server listens on ${path} (${answer.reason}): remove it if no persistd runs, or choose another control socket path (--socket)`);
  }
}

type ProbeAnswer = { kind: 'stale' } | { kind: 'live'; pid: number } | { kind: 'unknown'; reason: string };

/** Connects to `path`: nobody listens (ECONNREFUSED), somebody does, or we cannot tell. */
function probe(path: string): Promise<ProbeAnswer> {
  return new Promise((done) => {
    const socket = createConnection(path);
    // A listener too busy to accept within the timeout is still alive.
    const timer = setTimeout(() => finish({ kind: 'live', pid: 0 }), PROBE_TIMEOUT_MS);
    const finish = (answer: ProbeAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      done(answer);
    };
    socket.on('connect', () => {
      let pid = 0;
      try {
        pid = peerOf(socket).pid;
      } catch {
        // The pid only improves the message.
      }
      finish({ kind: 'live', pid });
    });
    // Only ECONNREFUSED proves the socket dead: one we may not even open (EACCES) is left alone.
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNREFUSED' ? { kind: 'stale' } : { kind: 'unknown', reason: err.message }));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: NodeJS.ErrnoException) => {
      fail(new Error(`cannot listen on the control socket ${path}: ${err.message}${err.code === 'EADDRINUSE' ? ' (another server just took it)' : ''}`));
    };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      done();
    });
  });
}

/** libuv removes the socket on close already; make sure, but never remove a successor's socket. */
function removeIfOurs(path: string, identity: { dev: number; ino: number }): void {
  try {
    const now = lstatSync(path);
    if (now.dev === identity.dev && now.ino === identity.ino) unlinkSync(path);
  } catch {
    // Gone already.
  }
}
