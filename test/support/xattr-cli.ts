// Extended attributes through the attr package's setfattr/getfattr (Node.js has no xattr calls).
// Values travel as hex so binary values (security.capability) survive. Failures throw ToolError,
// whose .code is the errno name, like Node's fs errors.

import { tryRun } from './command.js';
import { ToolError } from './errno-message.js';

export interface XattrTarget {
  path: string;
  /** Act on a symlink itself (l*xattr) instead of what it points to. */
  noDereference?: boolean;
}

function derefFlag(target: XattrTarget): string[] {
  return target.noDereference ? ['-h'] : [];
}

function runTool(command: string, args: string[]): string {
  const result = tryRun(command, args, { timeoutMs: 30_000 });
  if (result.status !== 0) throw new ToolError(command, result.stderr);
  return result.stdout;
}

export function setXattr(target: XattrTarget, name: string, value: Buffer): void {
  runTool('setfattr', [...derefFlag(target), '-n', name, '-v', `0x${value.toString('hex')}`, '--', target.path]);
}

export function removeXattr(target: XattrTarget, name: string): void {
  runTool('setfattr', [...derefFlag(target), '-x', name, '--', target.path]);
}

export function getXattr(target: XattrTarget, name: string): Buffer {
  const output = runTool('getfattr', [...derefFlag(target), '--absolute-names', '-e', 'hex', '-n', name, '--', target.path]);
  const attributes = parseGetfattrDump(output).get(target.path);
  const value = attributes?.get(name);
  if (value === undefined) throw new Error(`getfattr printed no value for ${name} on ${target.path}: ${output}`);
  return value;
}

/** Names of all attributes the caller may list (sorted). */
export function listXattrs(target: XattrTarget): string[] {
  const output = runTool('getfattr', [...derefFlag(target), '--absolute-names', '-m', '-', '--', target.path]);
  const names = output.split('\n').filter((line) => line !== '' && !line.startsWith('# file: '));
  return names.sort();
}

/**
 * All attributes of every entry under `root` (not following symlinks), in one getfattr run:
 * absolute path → (name → value). Entries without attributes are absent.
 */
export function dumpXattrsRecursively(root: string): Map<string, Map<string, Buffer>> {
  const result = tryRun('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root], {
    timeoutMs: 120_000,
  });
  if (result.status !== 0) throw new ToolError('getfattr -R', result.stderr);
  return parseGetfattrDump(result.stdout);
}

// getfattr escapes unusual bytes in file names as \ooo octal.
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses getfattr's "# file: PATH" blocks of "name=0xHEX" lines. */
export function parseGetfattrDump(output: string): Map<string, Map<string, Buffer>> {
  const files = new Map<string, Map<string, Buffer>>();
  let current: Map<string, Buffer> | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      files.set(unescapeOctal(line.slice('# file: '.length)), current);
    } else if (line !== '' && current) {
      const equals = line.indexOf('=');
      const name = equals < 0 ? line : line.slice(0, equals);
      const hex = equals < 0 ? '' : line.slice(equals + 1).replace(/^0x/, '');
      current.set(name, Buffer.from(hex, 'hex'));
    }
  }
  return files;
}
