/**
 * The profile's shape: the types a loaded profile has, the defaults, and SPEC, the key tree the
 * validator walks. config/profile.schema.json describes the same keys for editors; a test
 * (test/profile/schema.test.ts) checks that both name the same keys.
 */
import { DEFAULT_POLICY, type FlushPolicy } from '../flush/flusher.js';

/** One read-only layer, topmost first: a squashfs image file, a block device, or a directory. */
export type LowerLayer = { image: string } | { device: string } | { directory: string };

/** Where the upper lives. `image` is a file on the filesystem that label/uuid/device names. */
export type UpperLayer =
  | { kind: 'none' }
  | { kind: 'path'; path: string }
  | {
      kind: 'device';
      label?: string;
      uuid?: string;
      device?: string;
      fstype: string;
      image?: string;
      directory: string;
      /**
       * `first-boot`: the boot code may make the filesystem (mkfs.<fstype> on `device`) when blkid
       * finds none on it; `never` (the default): a device without a filesystem is a failure
       * (`on-failure`). A filesystem that exists is never formatted, whatever this says.
       */
      format: 'never' | 'first-boot';
    };

/** The factory-reset button (persist-button). */
export interface ResetButton {
  /** The Linux input key name (KEY_RESTART) and its code (408). */
  key: string;
  code: number;
  holdMs: number;
  /** A name under /sys/class/leds: blinks while the key is held, lit once the hold is long enough. */
  led: string | undefined;
  /** What a press shorter than `hold` does. */
  shortPress: 'nothing' | 'reboot';
  /** The evdev device; undefined: the one (of /dev/input/event*) whose key bitmap has the key. */
  device: string | undefined;
}

export interface Profile {
  version: 1;
  layers: { lower: LowerLayer[]; upper: UpperLayer };
  stage: { directory: string; sizeBytes: number };
  flush: FlushPolicy;
  paths: { volatile: string[]; fsyncHonor: string[] };
  control: { socket: string; group: string | undefined };
  reset: ResetButton | undefined;
  metrics: { file: string | undefined };
  onFailure: 'volatile' | 'fail';
}

export const DEFAULTS = {
  stageDirectory: '/run/persist/stage',
  stageSize: '256MiB',
  /** Throwaway by nature: kept in RAM so they never wear the flash. */
  volatile: ['/tmp', '/var/tmp', '/var/cache'],
  socket: '/run/persist/control.sock',
  upperFstype: 'ext4',
  upperDirectory: 'upper',
  resetHold: '10s',
  /** A factory reset must not come from brushing against the button. */
  resetMinHoldMs: 1000,
  resetShortPress: 'nothing' as const,
  upperFormat: 'never' as const,
  /** A device that still boots (and says why it does not persist) beats one that does not boot. */
  onFailure: 'volatile' as const,
  flush: DEFAULT_POLICY,
};

/** A node of the key tree. `exactlyOne`: exactly one of these keys must be present. */
export type Spec =
  | { type: 'map'; keys: Record<string, Spec>; required?: readonly string[]; exactlyOne?: readonly string[] }
  | { type: 'list'; items: Spec }
  | { type: 'path' } // absolute, normalised
  | { type: 'string'; pattern: RegExp; valid: string }
  | { type: 'duration' }
  | { type: 'size' }
  | { type: 'rate' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'version' }
  /** A scalar from `scalars`, or a map (`upper: none`). */
  | { type: 'scalar-or-map'; scalars: readonly string[]; map: Spec & { type: 'map' } };

const path: Spec = { type: 'path' };
const paths: Spec = { type: 'list', items: path };

export const SPEC: Spec & { type: 'map' } = {
  type: 'map',
  required: ['version', 'layers'],
  keys: {
    version: { type: 'version' },
    layers: {
      type: 'map',
      required: ['lower'],
      keys: {
        lower: { type: 'list', items: { type: 'map', exactlyOne: ['image', 'device', 'directory'], keys: { image: path, device: path, directory: path } } },
        upper: {
          type: 'scalar-or-map',
          scalars: ['none'],
          map: {
            type: 'map',
            exactlyOne: ['label', 'uuid', 'device', 'path'],
            keys: {
              label: { type: 'string', pattern: /^[A-Za-z0-9_.-]{1,16}$/, valid: 'a filesystem label: 1-16 letters, digits, _ . -' },
              uuid: { type: 'string', pattern: /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{4}-[0-9a-fA-F]{4})$/, valid: 'a filesystem UUID (8-4-4-4-12 hex digits, or XXXX-XXXX for FAT)' },
              device: path,
              path,
              fstype: { type: 'enum', values: ['ext4', 'ext3', 'ext2', 'f2fs', 'btrfs', 'xfs', 'vfat', 'exfat'] },
              image: path,
              directory: { type: 'string', pattern: /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0]+$/, valid: 'a relative directory inside the filesystem, e.g. upper' },
              format: { type: 'enum', values: ['never', 'first-boot'] },
            },
          },
        },
      },
    },
    stage: { type: 'map', keys: { directory: path, size: { type: 'size' } } },
    flush: { type: 'map', keys: { interval: { type: 'duration' }, 'max-dirty': { type: 'size' }, 'min-interval': { type: 'duration' }, 'rate-limit': { type: 'rate' } } },
    paths: { type: 'map', keys: { volatile: paths, 'fsync-honor': paths } },
    control: { type: 'map', keys: { socket: path, group: { type: 'string', pattern: /^[a-z_][a-z0-9_-]{0,31}$/, valid: 'a group name, e.g. persist' } } },
    reset: {
      type: 'map',
      required: ['key'],
      keys: {
        key: { type: 'string', pattern: /^(KEY|BTN)_[A-Z0-9_]+$/, valid: 'a Linux input key name, e.g. KEY_RESTART or BTN_0' },
        hold: { type: 'duration' },
        led: { type: 'string', pattern: /^[A-Za-z0-9_:.-]+$/, valid: 'an LED name under /sys/class/leds, e.g. green:status' },
        'short-press': { type: 'enum', values: ['nothing', 'reboot'] },
        device: path,
      },
    },
    metrics: { type: 'map', keys: { file: path } },
    'on-failure': { type: 'enum', values: ['volatile', 'fail'] },
  },
};
