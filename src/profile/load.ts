/**
 * Reads a profile: YAML (syntax errors mapped to file:line:col through yaml's LineCounter), then
 * the key tree (validate.ts), then the checks that span keys, then the defaults. Every problem is
 * reported at once, as a ProfileErrors.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { parseDuration, parseSize } from '../flush/units.js';
import { KEY_NAMES, keyCode } from '../button/keys.js';
import { didYouMean, ProfileError, ProfileErrors } from './errors.js';
import { DEFAULTS, SPEC, type LowerLayer, type Profile, type ResetButton, type UpperLayer } from './schema.js';
import { Checker, type Checked } from './validate.js';

type Obj = { [key: string]: Checked };

export function loadProfile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ProfileErrors([new ProfileError('READ_FAILED', file, 1, 1, '', `cannot read the profile: ${(err as Error).message}`)]);
  }
  return parseProfile(text, file);
}

export function parseProfile(text: string, file: string): Profile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors.map((err) => {
    const { line, col } = lines.linePos(err.pos[0]);
    const message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    return new ProfileError('YAML_SYNTAX', file, line, col, '', message, undefined, err.code);
  });
  if (syntax.length) throw new ProfileErrors(syntax);

  const checker = new Checker(file, doc, lines);
  const checked = (checker.check(doc.contents, SPEC, '') ?? {}) as Obj;
  const profile = build(checked, checker);
  if (checker.errors.length) {
    throw new ProfileErrors([...checker.errors].sort((a, b) => a.line - b.line || a.col - b.col));
  }
  return profile;
}

function build(c: Obj, checker: Checker): Profile {
  const map = (key: string): Obj => (c[key] as Obj | undefined) ?? {};
  const layers = map('layers');
  const stage = map('stage');
  const flush = map('flush');
  const paths = map('paths');
  const control = map('control');
  const reset = c['reset'] as Obj | undefined;
  const metrics = map('metrics');

  const volatile = (paths['volatile'] as string[] | undefined) ?? DEFAULTS.volatile;
  const fsyncHonor = (paths['fsync-honor'] as string[] | undefined) ?? [];
  fsyncHonor.forEach((prefix, i) => {
    const clash = volatile.find((v) => covers(v, prefix) || covers(prefix, v));
    if (clash !== undefined) {
      const key = `paths.fsync-honor[${i}]`;
      checker.report('CONFLICT', checker.positions.get(key) ?? { line: 1, col: 1 }, key, `'${prefix}' overlaps the volatile path '${clash}': it is never flushed, so fsync cannot make it durable`, 'drop one of the two');
    }
  });

  const interval = (flush['interval'] as number | undefined) ?? DEFAULTS.flush.intervalMs;
  const minInterval = (flush['min-interval'] as number | undefined) ?? DEFAULTS.flush.minIntervalMs;
  const invalid = (k: string) => checker.positions.has(`flush.${k}`) && flush[k] === undefined;
  if (minInterval > interval && !invalid('interval') && !invalid('min-interval')) {
    const key = flush['min-interval'] !== undefined ? 'flush.min-interval' : 'flush.interval';
    checker.report('CONFLICT', checker.positions.get(key) ?? { line: 1, col: 1 }, key, `min-interval (${minInterval} ms) is longer than interval (${interval} ms)`, 'make min-interval at most interval');
  }

  return {
    version: 1,
    layers: { lower: (layers['lower'] as LowerLayer[] | undefined) ?? [], upper: upper(layers['upper'], checker) },
    stage: {
      directory: (stage['directory'] as string | undefined) ?? DEFAULTS.stageDirectory,
      sizeBytes: (stage['size'] as number | undefined) ?? parseSize(DEFAULTS.stageSize, 'stage.size'),
    },
    flush: {
      intervalMs: interval,
      maxDirtyBytes: (flush['max-dirty'] as number | undefined) ?? DEFAULTS.flush.maxDirtyBytes,
      minIntervalMs: minInterval,
      rateBytesPerSec: (flush['rate-limit'] as number | undefined) ?? DEFAULTS.flush.rateBytesPerSec,
    },
    paths: { volatile, fsyncHonor },
    control: { socket: (control['socket'] as string | undefined) ?? DEFAULTS.socket, group: control['group'] as string | undefined },
    reset: resetButton(reset, checker),
    metrics: { file: metrics['file'] as string | undefined },
    onFailure: (c['on-failure'] as 'volatile' | 'fail' | undefined) ?? DEFAULTS.onFailure,
  };
}

function upper(value: Checked | undefined, checker: Checker): UpperLayer {
  if (value === undefined || value === 'none') return { kind: 'none' };
  const u = value as Obj;
  const at = (key: string) => checker.positions.get(key) ?? checker.positions.get('layers.upper') ?? { line: 1, col: 1 };
  if (typeof u['path'] === 'string') {
    for (const key of ['fstype', 'image', 'directory', 'format']) {
      if (u[key] !== undefined) checker.report('CONFLICT', at(`layers.upper.${key}`), `layers.upper.${key}`, `'${key}' does not go with 'path' (a directory persistd uses as it is)`, 'drop it, or name the filesystem by label, uuid or device');
    }
    return { kind: 'path', path: u['path'] };
  }
  const fstype = (u['fstype'] as string | undefined) ?? DEFAULTS.upperFstype;
  const image = u['image'] as string | undefined;
  if ((fstype === 'vfat' || fstype === 'exfat') && image === undefined) {
    checker.report('BAD_VALUE', at('layers.upper.fstype'), 'layers.upper.fstype', `${fstype} cannot hold an upper (no xattrs, no whiteouts)`, 'add image: /persistence.img (an ext4 image file on that filesystem), or use ext4 or f2fs');
  }
  const format = (u['format'] as 'never' | 'first-boot' | undefined) ?? DEFAULTS.upperFormat;
  if (format === 'first-boot') {
    const by = (['label', 'uuid'] as const).find((k) => u[k] !== undefined);
    if (by !== undefined) {
      checker.report('CONFLICT', at('layers.upper.format'), 'layers.upper.format', `first-boot formats a device that has no filesystem yet, and such a device has no ${by} to be found by`, 'name the partition by device (e.g. device: /dev/mmcblk0p3 or /dev/disk/by-partlabel/persist), or drop format');
    } else if (image !== undefined) {
      checker.report('CONFLICT', at('layers.upper.format'), 'layers.upper.format', "first-boot does not go with 'image' (a file on a filesystem that must already exist)", 'drop format, or drop image and give the upper a filesystem of its own');
    }
  }
  const out: UpperLayer = { kind: 'device', fstype, directory: (u['directory'] as string | undefined) ?? DEFAULTS.upperDirectory, format };
  for (const key of ['label', 'uuid', 'device'] as const) if (typeof u[key] === 'string') out[key] = u[key];
  if (image !== undefined) out.image = image;
  return out;
}

function resetButton(reset: Obj | undefined, checker: Checker): ResetButton | undefined {
  if (reset === undefined || typeof reset['key'] !== 'string') return undefined;
  const key = reset['key'];
  const code = keyCode(key);
  if (code === undefined) {
    const guess = didYouMean(key, KEY_NAMES);
    checker.report('BAD_VALUE', checker.positions.get('reset.key') ?? { line: 1, col: 1 }, 'reset.key', guess ? `'${key}' is not a Linux input key, did you mean '${guess}'?` : `'${key}' is not a Linux input key`, 'a name from linux/input-event-codes.h, e.g. KEY_RESTART, KEY_POWER, KEY_PROG1 or BTN_0');
  }
  const holdMs = (reset['hold'] as number | undefined) ?? parseDuration(DEFAULTS.resetHold, 'reset.hold');
  if (holdMs < DEFAULTS.resetMinHoldMs && reset['hold'] !== undefined) {
    checker.report('BAD_VALUE', checker.positions.get('reset.hold') ?? { line: 1, col: 1 }, 'reset.hold', `${holdMs} ms is too short for a factory reset (a brush against the button would wipe the device)`, `at least ${DEFAULTS.resetMinHoldMs / 1000}s; the default is ${DEFAULTS.resetHold}`);
  }
  return {
    key,
    code: code ?? -1,
    holdMs,
    led: reset['led'] as string | undefined,
    shortPress: (reset['short-press'] as 'nothing' | 'reboot' | undefined) ?? DEFAULTS.resetShortPress,
    device: reset['device'] as string | undefined,
  };
}

/** True if `prefix` is `path` or one of its ancestors. */
function covers(prefix: string, path: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}
