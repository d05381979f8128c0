/**
 * persistctl's command line: the verb, its options and paths, checked before anything talks to
 * the daemon, so a typo is a usage error (exit 2) whether or not persistd runs.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SOCKET, type ChangeKind, type ChangeState } from '../../control/protocol.js';

export const VERBS = ['status', 'changes', 'diff', 'commit', 'discard', 'revert', 'reset', 'top'] as const;
export type Verb = (typeof VERBS)[number];

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, denied: 4 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Invocation {
  /** null: no verb (the TUI on a terminal). */
  verb: Verb | null;
  help: boolean;
  json: boolean;
  socket: string;
  /** diff's one path; commit, discard and revert's paths (as given: mapping is the verbs'). */
  paths: string[];
  changes: { prefix?: string; state?: ChangeState; kinds?: ChangeKind[]; offset?: number; limit?: number; all: boolean };
  base?: 'factory' | 'flash';
  yes: boolean;
  top: { depth?: number; limit?: number };
}

const OPTIONS = {
  json: { type: 'boolean' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  prefix: { type: 'string' },
  state: { type: 'string' },
  kind: { type: 'string', multiple: true },
  offset: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  base: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  depth: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

const COMMON: readonly OptionName[] = ['json', 'socket', 'help'];
const VERB_OPTIONS: Record<Verb, readonly OptionName[]> = {
  status: [],
  changes: ['prefix', 'state', 'kind', 'offset', 'limit', 'all'],
  diff: ['base'],
  commit: [],
  discard: [],
  revert: [],
  reset: ['yes'],
  top: ['depth', 'limit'],
};

const KINDS: readonly ChangeKind[] = ['added', 'modified', 'deleted', 'metadata'];

export function parseInvocation(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values } = parsed;
  const [first, ...positionals] = parsed.positionals;
  const verbName = first === 'help' ? undefined : first;
  const help = values.help === true || first === 'help';
  if (verbName !== undefined && !(VERBS as readonly string[]).includes(verbName)) {
    throw new UsageError(`unknown verb ${JSON.stringify(verbName)}; the verbs are: ${VERBS.join(', ')}`);
  }
  const verb = (verbName ?? null) as Verb | null;
  const invocation: Invocation = {
    verb,
    help,
    json: values.json === true,
    socket: values.socket ?? (env['PERSIST_SOCKET'] || DEFAULT_SOCKET),
    paths: positionals,
    changes: { all: values.all === true },
    yes: values.yes === true,
    top: {},
  };
  if (help) return invocation;

  const allowed = new Set<OptionName>([...COMMON, ...(verb ? VERB_OPTIONS[verb] : [])]);
  for (const name of Object.keys(values) as OptionName[]) {
    if (!allowed.has(name)) throw new UsageError(verb ? `${verb} takes no --${name}` : `--${name} needs a verb`);
  }
  if (values.socket === '') throw new UsageError('--socket needs a path');

  switch (verb) {
    case null:
    case 'status':
    case 'reset':
    case 'top':
    case 'changes':
      if (positionals.length > 0) throw new UsageError(`${verb ?? 'persistctl'} takes no arguments, got ${positionals.join(' ')}`);
      break;
    case 'diff':
      if (positionals.length !== 1) throw new UsageError('diff needs exactly one PATH');
      break;
    case 'revert':
      if (positionals.length === 0) throw new UsageError('revert needs at least one PATH');
      break;
    case 'commit':
    case 'discard':
      break;
  }

  if (values.prefix !== undefined) invocation.changes.prefix = values.prefix;
  if (values.state !== undefined) invocation.changes.state = oneOf('--state', values.state, ['pending', 'persisted'] as const);
  if (values.kind !== undefined) {
    invocation.changes.kinds = values.kind.flatMap((k) => k.split(',')).map((k) => oneOf('--kind', k, KINDS));
  }
  if (values.offset !== undefined) invocation.changes.offset = count('--offset', values.offset);
  if (values.limit !== undefined) {
    if (verb === 'top') invocation.top.limit = count('--limit', values.limit, 1);
    else invocation.changes.limit = count('--limit', values.limit);
  }
  if (values.depth !== undefined) invocation.top.depth = count('--depth', values.depth);
  if (values.base !== undefined) invocation.base = oneOf('--base', values.base, ['factory', 'flash'] as const);
  return invocation;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
}

function count(flag: string, value: string, min = 0): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, got ${JSON.stringify(value)}`);
  return n;
}

export const HELP = `usage: persistctl [VERB] [options]

The operator's tool for persistd. With no verb on a terminal: the interactive view.

Verbs:
  status                        mode, mountpoint, layers, pending changes, flushes, flash wear,
                                device counters, a scheduled reset, warnings
  changes                       what changed, by path (pending: only in RAM; persisted: on flash)
      --prefix P                  only P and paths under it
      --state pending|persisted
      --kind K                    added, modified, deleted or metadata; repeatable
      --offset N, --limit N       paging (default limit 1000, at most 10000)
      --all                       every page
  diff PATH [--base factory|flash]
                                the current version against the factory version (default) or
                                the last persisted one (what discard goes back to)
  commit [PATH...]              flush pending changes to the flash now: everything, or PATHs
  discard [PATH...]             drop pending changes (back to the flash version): all, or PATHs
  revert PATH...                take PATHs back to the factory version
  reset [--yes]                 schedule a factory reset: the next boot wipes every change on
                                the flash. Asks twice on a terminal; elsewhere needs --yes
  top [--depth N] [--limit N]   which paths wear the flash: bytes written, flushed, avoided
                                (--depth 2 groups by /a/b; default 20 rows)

Options for every verb:
  --json             print the result as one line of JSON (for scripts)
  --socket PATH      the control socket (default: $PERSIST_SOCKET, else ${DEFAULT_SOCKET})
  -h, --help         this help

PATH is a path as applications on the mount see it (/etc/hostname). An absolute path under
the mountpoint (e.g. /mnt/root/etc/hostname when persistd serves /mnt/root) is taken
relative to it.

Exit status:
  0  ok
  1  the operation failed (persistd answered with an error)
  2  usage error
  3  persistd is not running or cannot be reached
  4  permission denied
`;
