/**
 * Who may talk to the control socket. The socket file's mode is the first gate (0600, or 0660 and
 * the group); the peer's credentials, as the kernel recorded them at connect() (SO_PEERCRED), are
 * the second, so a socket chmod'ed open by mistake still admits only root, the daemon's own uid
 * and members of the configured group.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { native } from '../native/index.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * The peer of an accepted Unix socket. Node has no API for SO_PEERCRED; the fd sits on the
 * socket's libuv handle (`_handle.fd`, an internal but long-stable field on Unix).
 */
export function peerOf(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor (already closed?)');
  return native.peerCredentials(fd);
}

/** The gid of a group named in /etc/group (a number is taken as a gid as it is). */
export function resolveGroup(name: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${groupFile} to find group ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  for (const line of text.split('\n')) {
    const [groupName, , gid] = line.split(':');
    if (groupName === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`no group ${JSON.stringify(name)} in ${groupFile}: create it (groupadd ${name}) or name an existing group for the control socket`);
}

/** Why `peer` may not use the socket, or null when it may. */
export function refusal(peer: PeerCredentials, ownUid: number, gid: number | null): string | null {
  if (peer.uid === 0 || peer.uid === ownUid) return null;
  if (gid !== null && (peer.gid === gid || supplementaryGroups(peer.pid).includes(gid))) return null;
  return gid === null ? `uid ${peer.uid} is neither root nor uid ${ownUid}` : `uid ${peer.uid} is neither root nor uid ${ownUid} nor in group ${gid}`;
}

/**
 * The `Groups:` line of /proc/PID/status. Read at accept time: a peer that has exited (or a pid
 * we may not read) has no groups, so it is refused unless its uid or primary gid admits it.
 */
function supplementaryGroups(pid: number): number[] {
  if (!(pid > 0)) return [];
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = /^Groups:(.*)$/m.exec(status)?.[1] ?? '';
    return line.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
