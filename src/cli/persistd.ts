/**
 * persistd: the daemon. `persistd mount --lower A[:B…] --upper DIR [--work DIR] MOUNTPOINT`
 * serves the union in the foreground until SIGTERM/SIGINT, then unmounts and exits 0.
 */
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError, describeError } from '../errors.js';
import { mountUnion } from '../fuse/mount.js';
import { Overlay } from '../overlay/index.js';
import { validateLayers } from '../overlay/validate.js';

const USAGE = `usage: persistd mount --lower DIR[:DIR...] --upper DIR [--work DIR] MOUNTPOINT

Serves MOUNTPOINT as a union of the read-only lower directories (topmost first) under the
writable upper directory, with the semantics and on-disk format of the kernel's overlayfs.
Runs in the foreground; SIGTERM or SIGINT unmounts and exits 0.

  --lower DIR[:DIR...]  read-only layers, topmost first (e.g. a mounted squashfs)
  --upper DIR           writable layer (created if missing)
  --work DIR            scratch space on the upper's filesystem (default: DIR/../work)
  -h, --help            show this help`;

/** Exit codes: 0 done, 1 failed while running, 2 bad usage or a bad start. */
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : EXIT_USAGE;
  }
  if (command !== 'mount') throw new UserError(`unknown command '${command}'`, 'see persistd --help');
  return mountCommand(rest);
}

async function mountCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        lower: { type: 'string' },
        upper: { type: 'string' },
        work: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UserError((err as Error).message, 'see persistd --help');
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError('give exactly one MOUNTPOINT', 'see persistd --help');
  if (!values.lower) throw new UserError('--lower is required', 'pass --lower DIR[:DIR...]');
  if (!values.upper) throw new UserError('--upper is required', 'pass --upper DIR (a directory on flash or tmpfs)');

  const upper = resolve(values.upper);
  const config = validateLayers({
    lowers: values.lower.split(':').filter(Boolean),
    upper,
    work: values.work ?? join(dirname(upper), 'work'),
  });

  process.umask(0); // modes of new files are exactly what the caller asked for
  const overlay = new Overlay(config);
  const mounted = await mountUnion(positionals[0]!, overlay);
  console.error(`persistd: serving ${mounted.mountpoint} (lower ${config.lowers.join(':')}, upper ${config.upper}); stop with SIGTERM or Ctrl-C`);

  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  console.error(`persistd: ${signal}: unmounting ${mounted.mountpoint}`);
  await mounted.unmount();
  overlay.files.closeAll();
  return 0;
}

process.title = '@persistd'; // systemd leaves root-storage daemons ('@' first) alive at shutdown
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`persistd: ${describeError(err)}`);
    process.exit(err instanceof UserError ? EXIT_USAGE : EXIT_RUNTIME);
  },
);
