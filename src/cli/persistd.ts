/**
 * persistd: the daemon. `persistd mount --lower A[:B…] [--upper DIR] [--stage DIR] MOUNTPOINT`
 * serves the union in the foreground until SIGTERM/SIGINT, then flushes, unmounts and exits 0;
 * after an external unmount (umount, fusermount -u, umount -l) it flushes and exits 0 too.
 */
import { parseArgs } from 'node:util';
import { UserError, describeError } from '../errors.js';
import { DEFAULT_POLICY, type FlushPolicy } from '../flush/flusher.js';
import { parseDuration, parseRate, parseSize } from '../flush/units.js';
import { serve, type Serving } from '../daemon/serve.js';
import { loadProfile, ProfileErrors, type Profile } from '../profile/index.js';
import { DEFAULT_SOCKET } from '../control/protocol.js';
import { startControlServer } from '../control/server.js';
import { BootFailed, planBoot } from '../boot/plan.js';
import { readFileSync } from 'node:fs';

const USAGE = `usage: persistd mount --lower DIR[:DIR...] [--upper DIR] [--stage DIR] [options] MOUNTPOINT
       persistd mount --profile FILE [options] MOUNTPOINT
       persistd check FILE
       persistd boot (--lower DIR | --medium DIR) [--profile FILE] [--layers DIR] [--prefix DIR] MOUNTPOINT

Serves MOUNTPOINT as a union of the read-only lower directories (topmost first) and a writable
layer, with the semantics and on-disk format of the kernel's overlayfs. Runs in the foreground;
SIGTERM or SIGINT flushes, unmounts and exits 0; so does an unmount (umount MOUNTPOINT).
SIGUSR1 flushes now. \`persistd boot\` is the appliance's start, run chroot'ed by the initramfs
(initramfs/; README "Booting an appliance"): it decides the boot from the profile, the kernel
command line and the flash, then serves like mount.

Modes:
  --upper DIR                 direct: writes go straight to DIR (like mount -t overlay)
  --upper DIR --stage DIR2    staged: writes land in DIR2 (a tmpfs) and reach DIR in batched,
                              crash-safe flushes; journal and state live beside DIR
  --stage DIR2                volatile: nothing persists

Options:
  --profile FILE           take the settings from a YAML profile; flags override it
  --lower DIR[:DIR...]     read-only layers, topmost first (e.g. a mounted squashfs)
  --work DIR               direct mode's scratch space on the upper's filesystem (default DIR/../work)
  --flush-interval 30s     flush when the oldest pending change is this old
  --max-dirty 32MiB        flush early when this many bytes are pending
  --min-interval 5s        never flush more often (an explicit flush and shutdown excepted)
  --rate-limit 8MiB/s      write to the flash no faster than this
  --fsync-honor PREFIX     fsync under PREFIX waits until the data is on the flash (repeatable;
                           elsewhere fsync returns once the data is in RAM: see README)
  --volatile PREFIX        keep PREFIX (e.g. /tmp) in RAM only: never flushed, empty again after
                           a restart, like a tmpfs mounted there (repeatable)
  --metrics-file PATH      write Prometheus metrics there (atomically, on every flush)
  --socket PATH            the control socket persistctl talks to (default ${DEFAULT_SOCKET}, or
                           the profile's control.socket); mode 0600, or 0660 with the profile's
                           control.group
  --no-socket              serve no control socket
  -h, --help               show this help`;

/** Exit codes: 0 done, 1 failed while running, 2 bad usage or a bad start. */
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

const log = (line: string) => console.error(line);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : EXIT_USAGE;
  }
  if (command === 'check') return checkCommand(rest);
  if (command === 'boot') return bootCommand(rest);
  if (command !== 'mount') throw new UserError(`unknown command '${command}'`, 'see persistd --help');
  return mountCommand(rest);
}

function parseMountArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        profile: { type: 'string' },
        lower: { type: 'string' },
        upper: { type: 'string' },
        stage: { type: 'string' },
        work: { type: 'string' },
        'flush-interval': { type: 'string' },
        'max-dirty': { type: 'string' },
        'min-interval': { type: 'string' },
        'rate-limit': { type: 'string' },
        'fsync-honor': { type: 'string', multiple: true },
        volatile: { type: 'string', multiple: true },
        'metrics-file': { type: 'string' },
        socket: { type: 'string' },
        'no-socket': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UserError((err as Error).message, 'see persistd --help');
  }
}

async function mountCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseMountArgs(args);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError('give exactly one MOUNTPOINT', 'see persistd --help');
  const profile = values.profile === undefined ? undefined : loadForMount(values.profile);
  const lowers = values.lower !== undefined ? values.lower.split(':').filter(Boolean) : profile ? profileLowers(profile) : undefined;
  if (!lowers) throw new UserError('--lower is required', 'pass --lower DIR[:DIR...] or --profile FILE');
  const upper = values.upper ?? (profile ? profileUpper(profile) : undefined);
  const stage = values.stage ?? profile?.stage.directory;
  const base = profile?.flush ?? DEFAULT_POLICY;
  const policy: FlushPolicy = {
    intervalMs: values['flush-interval'] ? parseDuration(values['flush-interval'], '--flush-interval') : base.intervalMs,
    maxDirtyBytes: values['max-dirty'] ? parseSize(values['max-dirty'], '--max-dirty') : base.maxDirtyBytes,
    minIntervalMs: values['min-interval'] ? parseDuration(values['min-interval'], '--min-interval') : base.minIntervalMs,
    rateBytesPerSec: values['rate-limit'] ? parseRate(values['rate-limit'], '--rate-limit') : base.rateBytesPerSec,
  };
  const fsyncHonor = values['fsync-honor'] ?? profile?.paths.fsyncHonor ?? [];
  const volatile = values.volatile ?? profile?.paths.volatile ?? [];
  const metricsFile = values['metrics-file'] ?? profile?.metrics.file;

  process.umask(0); // modes of new files are exactly what the caller asked for
  const serving = await serve({
    layout: { lowers, upper, stage, work: values.work },
    mountpoint: positionals[0]!,
    policy,
    fsyncHonor,
    volatile,
    metricsFile,
    log,
  });
  const { layout, mounted } = serving;
  const where = layout.mode === 'direct' ? `upper ${layout.upper}` : layout.mode === 'staged' ? `stage ${layout.stage}, upper ${layout.upper}` : `stage ${layout.stage}, volatile: nothing persists`;
  log(`persistd: serving ${mounted.mountpoint} (lower ${layout.lowers.join(':')}, ${where}); stop with SIGTERM or Ctrl-C`);
  if (values.profile !== undefined) {
    const list = (prefixes: readonly string[]) => (prefixes.length ? prefixes.join(' ') : '(none)');
    log(`persistd: settings (profile ${values.profile}, flags override it): flush-interval ${policy.intervalMs} ms, max-dirty ${policy.maxDirtyBytes} bytes, min-interval ${policy.minIntervalMs} ms, rate-limit ${policy.rateBytesPerSec} bytes/s, volatile ${list(volatile)}, fsync-honor ${list(fsyncHonor)}, metrics-file ${metricsFile ?? '(none)'}`);
  }

  const control = await startControl(values.socket, values['no-socket'] === true, profile, serving);
  return serveUntilStopped(serving, control);
}

/** Serves until SIGTERM, SIGINT or an unmount, then flushes and stops; SIGUSR1 flushes now. */
async function serveUntilStopped(serving: Serving, control: { close(): Promise<void> } | null): Promise<number> {
  const { mounted } = serving;
  keepServingThroughBugs();
  injectBug(process.env['PERSIST_INJECT_BUG']);
  process.on('SIGUSR1', () => {
    serving.flush().catch((err: unknown) => log(`persistd: flush failed: ${(err as Error).message}`));
  });
  const reason = await new Promise<NodeJS.Signals | 'unmounted'>((done) => {
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
    void mounted.ended.then(() => done('unmounted'));
  });
  if (reason === 'unmounted') log(`persistd: ${mounted.mountpoint} was unmounted: flushing and exiting`);
  else log(`persistd: ${reason}: flushing and unmounting ${mounted.mountpoint}`);
  await control?.close();
  await serving.stop();
  return 0;
}

/**
 * `persistd boot`: the appliance's start, run by the initramfs (initramfs/) chroot'ed into its
 * private tree, after the boot script mounted the squashfs root at --lower. Decides what this
 * boot serves (src/boot/plan.ts: the profile, the kernel command line, the flash; it always
 * boots), then serves MOUNTPOINT, which the boot script moves onto the real root.
 */
async function bootCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        profile: { type: 'string', default: '/etc/persist/profile.yaml' },
        cmdline: { type: 'string', default: '/proc/cmdline' },
        lower: { type: 'string' },
        medium: { type: 'string' },
        layers: { type: 'string', default: '/layers' },
        prefix: { type: 'string', default: '' },
        'reachable-at': { type: 'string', default: '/proc/1/root' },
      },
    });
  } catch (err) {
    throw new UserError((err as Error).message, 'see persistd --help');
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || !(values.lower || values.medium)) {
    throw new UserError('usage: persistd boot (--lower DIR[:DIR...] | --medium DIR) [--profile FILE] [--layers DIR] [--prefix DIR] MOUNTPOINT', 'see persistd --help');
  }
  const say = (line: string) => console.log(line); // the boot script sends it to the console
  let plan;
  try {
    plan = await planBoot({
      profilePath: values.profile,
      cmdline: readFileSync(values.cmdline, 'utf8'),
      lowers: (values.lower ?? '').split(':').filter(Boolean),
      ...(values.medium ? { medium: values.medium } : {}),
      layersDir: values.layers,
      log: say,
    });
  } catch (err) {
    if (err instanceof BootFailed) throw new UserError(err.message, err.hint);
    throw err;
  }
  // Paths in the profile are the system's; persistd runs chroot'ed at --prefix.
  const prefix = values.prefix.replace(/\/+$/, '');
  const inChroot = (path: string) => (prefix && path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path);
  const { profile } = plan;
  process.umask(0);
  const serving = await serve({
    layout: plan.layout,
    mountpoint: positionals[0]!,
    policy: profile.flush,
    fsyncHonor: profile.paths.fsyncHonor,
    volatile: profile.paths.volatile,
    metricsFile: profile.metrics.file === undefined ? undefined : inChroot(profile.metrics.file),
    log,
    servedAs: '/',
    reachableAt: values['reachable-at'],
    bootFallback: plan.fallback,
  });
  say(`persist: serving / in ${plan.mode} mode (lower ${plan.layout.lowers.join(':')}${plan.layout.upper ? `, upper ${plan.layout.upper}` : ''}, stage ${plan.layout.stage})`);
  const socketProfile = { ...profile, control: { ...profile.control, socket: inChroot(profile.control.socket) } };
  const control = await startControl(undefined, false, socketProfile, serving);
  return serveUntilStopped(serving, control);
}

/**
 * The control socket. An explicit --socket that cannot be served is a bad start; the default
 * one (another persistd may hold it, e.g. a demo beside a test) only costs a warning.
 */
async function startControl(flag: string | undefined, off: boolean, profile: Profile | undefined, serving: Serving) {
  if (off) return null;
  const socketPath = flag ?? profile?.control.socket ?? DEFAULT_SOCKET;
  try {
    const server = await startControlServer({ socketPath, group: profile?.control.group, target: serving.control, log });
    log(`persistd: control socket ${server.path} (persistctl --socket ${server.path})`);
    return server;
  } catch (err) {
    if (flag !== undefined) {
      await serving.stop();
      throw err;
    }
    log(`persistd: warning: no control socket: ${describeError(err)}`);
    return null;
  }
}

/** `persistd check FILE`: 0 and a summary when valid; 2 and one `file:line:col: key: message` line per problem. */
function checkCommand(args: string[]): number {
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UserError('usage: persistd check FILE', 'see persistd --help');
  const file = args[0]!;
  try {
    console.log(`${file}: ok: ${summarize(loadProfile(file))}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ProfileErrors)) throw err;
    for (const problem of err.errors) console.error(problem.format());
    return EXIT_USAGE;
  }
}

function summarize(profile: Profile): string {
  const { upper } = profile.layers;
  const where =
    upper.kind === 'none' ? 'no upper (volatile)'
    : upper.kind === 'path' ? `upper ${upper.path}`
    : `upper ${upper.image ? `image ${upper.image} on ` : ''}${upper.label ? `LABEL=${upper.label}` : upper.uuid ? `UUID=${upper.uuid}` : upper.device} (${upper.fstype})`;
  const lowers = profile.layers.lower.length;
  return `${lowers} lower layer${lowers === 1 ? '' : 's'}, ${where}, stage ${profile.stage.directory} (${profile.stage.sizeBytes} bytes), flush every ${profile.flush.intervalMs / 1000} s, ${profile.paths.volatile.length} volatile paths, on-failure ${profile.onFailure}`;
}

/** A profile with errors is a bad start: one line (the first problem and how many more). */
function loadForMount(file: string): Profile {
  try {
    return loadProfile(file);
  } catch (err) {
    if (!(err instanceof ProfileErrors)) throw err;
    const more = err.errors.length - 1;
    throw new UserError(`bad profile: ${err.errors[0]!.format()}${more ? ` (and ${more} more)` : ''}`, `see persistd check ${file}`);
  }
}

/** mount serves directories; squashfs images and devices are the boot code's to mount. */
function profileLowers(profile: Profile): string[] {
  return profile.layers.lower.map((layer, i) => {
    if ('directory' in layer) return layer.directory;
    const what = 'image' in layer ? `the image ${layer.image}` : `the device ${layer.device}`;
    throw new UserError(`profile: layers.lower[${i}] is ${what}: persistd mount serves directories (the boot code mounts images and devices)`, 'pass --lower DIR[:DIR...]');
  });
}

function profileUpper(profile: Profile): string | undefined {
  const { upper } = profile.layers;
  if (upper.kind === 'none') return undefined;
  if (upper.kind === 'path') return upper.path;
  const what = upper.image ? `an image file (${upper.image})` : `a filesystem by ${upper.label ? `label ${upper.label}` : upper.uuid ? `uuid ${upper.uuid}` : `device ${upper.device}`}`;
  throw new UserError(`profile: layers.upper is ${what}: persistd mount takes a directory (the boot code mounts it)`, 'pass --upper DIR');
}

/**
 * While serving, an error that escapes every handler (a timer, a callback, a promise nobody
 * awaits) is a bug, but the daemon may be serving / and its RAM stage: log it with its stack and
 * keep serving. The normal exits (signals, an unmount, a failed stop) go through main's promise
 * and process.exit, which these handlers do not see.
 */
function keepServingThroughBugs(): void {
  const report = (what: string, err: unknown): void => {
    try {
      log(`persistd: bug: ${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } catch {
      // nothing left to report with
    }
  };
  process.on('uncaughtException', (err) => report('uncaught exception', err));
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
}

/** For tests (test/fuse/errors.test.ts): PERSIST_INJECT_BUG=throw|reject makes one escape. */
function injectBug(kind: string | undefined): void {
  if (kind === 'throw') {
    setTimeout(() => {
      throw new Error('injected bug (PERSIST_INJECT_BUG=throw)');
    }, 10);
  } else if (kind === 'reject') {
    void Promise.reject(new Error('injected bug (PERSIST_INJECT_BUG=reject)'));
  }
}

process.title = '@persistd'; // systemd leaves root-storage daemons ('@' first) alive at shutdown
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`persistd: ${describeError(err)}`);
    process.exit(err instanceof UserError ? EXIT_USAGE : EXIT_RUNTIME);
  },
);
