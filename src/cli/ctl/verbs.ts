/**
 * persistctl's verbs: each one is a request (or, for `changes --all`, a series of them) on the
 * shared client; its result is printed as JSON or by src/cli/ctl/format.ts.
 */
import { resolve } from 'node:path';
import type { ChangesPage, Control } from '../../control/protocol.js';
import type { Invocation, Verb } from './args.js';
import { withCommitProgress } from './progress.js';
import { formatChanges, formatCommit, formatDiff, formatDiscard, formatReset, formatRevert, formatStatus, formatTop } from './format.js';

export interface Outcome {
  result: object;
  human: string;
}

/** The largest page the daemon serves: `--all` pages with it unless --limit says otherwise. */
const ALL_PAGE = 10_000;

export interface VerbOptions {
  /** Show a progress line while a commit runs (a terminal, no --json). */
  progress?: boolean;
}

export async function runVerb(verb: Verb, inv: Invocation, control: Control, options: VerbOptions = {}): Promise<Outcome> {
  switch (verb) {
    case 'status': {
      const status = await control.status();
      return { result: status, human: formatStatus(status) };
    }
    case 'changes': {
      const { all, ...query } = inv.changes;
      const page = all ? await allChanges(control, query) : await control.changes(query);
      return { result: page, human: formatChanges(page) };
    }
    case 'diff': {
      const [path] = await unionPaths(control, inv.paths);
      const diff = await control.diff(path!, inv.base);
      return { result: diff, human: formatDiff(diff) };
    }
    case 'commit': {
      const paths = await unionPaths(control, inv.paths);
      const result = await (options.progress ? withCommitProgress(control, () => control.commit(paths)) : control.commit(paths));
      return { result, human: formatCommit(result) };
    }
    case 'discard': {
      const result = await control.discard(await unionPaths(control, inv.paths));
      return { result, human: formatDiscard(result) };
    }
    case 'revert': {
      const result = await control.revert(await unionPaths(control, inv.paths));
      return { result, human: formatRevert(result) };
    }
    case 'reset': {
      const result = await control.reset();
      return { result, human: formatReset(result) };
    }
    case 'top': {
      const top = await control.top(inv.top);
      return { result: top, human: formatTop(top) };
    }
  }
}

/** Every page from `offset` on, as one page. Stops at an empty page (the list shrank meanwhile). */
async function allChanges(control: Control, query: Omit<Invocation['changes'], 'all'>): Promise<ChangesPage> {
  const start = query.offset ?? 0;
  const limit = query.limit || ALL_PAGE;
  const entries: ChangesPage['entries'] = [];
  let total = 0;
  for (let offset = start; ; ) {
    const page = await control.changes({ ...query, offset, limit });
    total = page.total;
    entries.push(...page.entries);
    offset += page.entries.length;
    if (page.entries.length === 0 || offset >= page.total) break;
  }
  return { total, offset: start, entries };
}

/**
 * Operators paste host paths (/tmp/persist-demo/root/etc/hostname) or work inside the mount
 * (cd /tmp/persist-demo/root/etc; persistctl diff hostname): a path under the mountpoint, an
 * absolute one or a relative one resolved against `cwd`, is taken relative to the mountpoint.
 * Anything else goes as given; the daemon says what is wrong with a path that is not a union path.
 */
export async function unionPaths(control: Control, paths: readonly string[], cwd = process.cwd()): Promise<string[]> {
  if (!paths.some((p) => p !== '/')) return [...paths];
  const { mountpoint } = await control.status();
  return paths.map((p) => toUnionPath(p, mountpoint, cwd));
}

export function toUnionPath(path: string, mountpoint: string, cwd: string): string {
  if (path.startsWith('/')) return stripMountpoint(path, mountpoint);
  // A relative path is a host path; only under the mountpoint does it name a union path.
  const host = resolve(cwd, path);
  const union = stripMountpoint(host, mountpoint);
  return union === host ? path : union;
}

export function stripMountpoint(path: string, mountpoint: string): string {
  const mnt = mountpoint.replace(/\/+$/, '');
  if (mnt === '' || !path.startsWith('/')) return path;
  if (path === mnt) return '/';
  return path.startsWith(`${mnt}/`) ? path.slice(mnt.length) : path;
}
