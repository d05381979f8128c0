// Node.js has no xattr, mknod or mkfifo calls, so tests use setfattr/getfattr/mknod/mkfifo, which
// report failures as "...: <strerror text>". This turns glibc's text back into the errno name so
// results can be compared with those of Node's own fs calls.

const GLIBC_MESSAGES: Record<string, string> = {
  'Operation not permitted': 'EPERM',
  'No such file or directory': 'ENOENT',
  'Input/output error': 'EIO',
  'No such device or address': 'ENXIO',
  'Argument list too long': 'E2BIG',
  'Bad file descriptor': 'EBADF',
  'Permission denied': 'EACCES',
  'Device or resource busy': 'EBUSY',
  'File exists': 'EEXIST',
  'Invalid cross-device link': 'EXDEV',
  'No such device': 'ENODEV',
  'Not a directory': 'ENOTDIR',
  'Is a directory': 'EISDIR',
  'Invalid argument': 'EINVAL',
  'Text file busy': 'ETXTBSY',
  'File too large': 'EFBIG',
  'No space left on device': 'ENOSPC',
  'Read-only file system': 'EROFS',
  'Too many links': 'EMLINK',
  'Numerical result out of range': 'ERANGE',
  'File name too long': 'ENAMETOOLONG',
  'Function not implemented': 'ENOSYS',
  'Directory not empty': 'ENOTEMPTY',
  'Too many levels of symbolic links': 'ELOOP',
  'No data available': 'ENODATA',
  // getfattr prints its own text for ENODATA.
  'No such attribute': 'ENODATA',
  'Operation not supported': 'EOPNOTSUPP',
  'Transport endpoint is not connected': 'ENOTCONN',
  'Disk quota exceeded': 'EDQUOT',
  'Stale file handle': 'ESTALE',
  'Value too large for defined data type': 'EOVERFLOW',
};

/**
 * Finds the errno name in a tool's error output (the text after its last ": "). Unknown text is
 * returned as "EUNKNOWN(<text>)" so two sides still compare exactly.
 */
export function errnoFromToolMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((line) => line.trim() !== '');
  for (const line of lines) {
    for (const [message, code] of Object.entries(GLIBC_MESSAGES)) {
      if (line.endsWith(`: ${message}`)) return code;
    }
  }
  return `EUNKNOWN(${lines[lines.length - 1] ?? ''})`;
}

/** An error shaped like Node's fs errors (`.code` = errno name), raised when a tool fails. */
export class ToolError extends Error {
  readonly code: string;

  constructor(command: string, stderr: string) {
    const code = errnoFromToolMessage(stderr);
    super(`${command}: ${code}: ${stderr.trim()}`);
    this.code = code;
  }
}
