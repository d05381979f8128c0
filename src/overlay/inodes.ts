/**
 * Inode numbers the union shows: unique across layers and stable across copy-up, flush and
 * remount. An object that moves up (copy-up into the stage or the upper, a flush from the stage
 * to the upper) keeps the number it was first shown with: the new object's identity is mapped to
 * that number. Mappings for upper objects are persisted beside the upper (never inside it); those
 * for stage objects live in memory, like the stage.
 *
 * Natural numbers: lower and upper objects carry their layer's tag in bits 49-52; stage objects
 * carry the stage epoch (one per daemon start, persisted) in bits 32-48, because a fresh tmpfs
 * reuses small inode numbers.
 */
import { appendFileSync, readdirSync, readFileSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import { STAGE_TAG, type Layer } from './layers.js';

const TAG_SHIFT = 49n;
const EPOCH_SHIFT = 32n;
const EPOCH_MASK = (1n << (TAG_SHIFT - EPOCH_SHIFT)) - 1n;

/** Identity of an object in its layer that survives inode-number reuse (upper: plus birth time). */
export function identityOf(layer: Layer, stat: BigIntStats): string {
  if (layer.kind === 'upper') return upperIdentity(stat);
  if (layer.tag === STAGE_TAG) return `s:${stat.ino}`;
  return `l${layer.tag}:${stat.ino}`;
}

export function upperIdentity(stat: BigIntStats): string {
  return `u:${stat.ino}:${stat.birthtimeNs}`;
}

/** The three kinds of line of a mapping file, in the order they come. */
export interface MappingLines {
  number(identity: string, number: string): void;
  link(identity: string, path: string): void;
  forget(identity: string): void;
}

/** "IDENTITY NUMBER", "link\tIDENTITY\tPATH" and "forget\tIDENTITY" lines (see adopt). */
export function readMappingLines(text: string, to: MappingLines): void {
  for (const line of text.split('\n')) {
    if (line.startsWith('forget\t')) {
      to.forget(line.slice('forget\t'.length));
    } else if (line.startsWith('link\t')) {
      const [, identity, path] = line.split('\t');
      if (identity && path) to.link(identity, path);
    } else {
      const [identity, number] = line.split(' ');
      if (identity && number) to.number(identity, number);
    }
  }
}

export interface InodeStore {
  /** Files of "identity number" lines to read at start. */
  readFrom: string[];
  /** Where new upper mappings are appended (direct mode); null when a flusher persists them. */
  appendTo: string | null;
  /** Stage epoch (bits 32-48 of stage objects' numbers). */
  epoch: number;
}

export class InodeNumbers {
  private readonly origins = new Map<string, number>();
  /** Names an upper object was given by flushes (for objects with several links). */
  private readonly names = new Map<string, Set<string>>();

  constructor(private readonly store: InodeStore) {
    for (const path of store.readFrom) this.load(path);
  }

  /** The number the union shows for an object found in `layer` with real stat `stat`. */
  of(layer: Layer, stat: BigIntStats): number {
    const mapped = this.origins.get(identityOf(layer, stat));
    if (mapped !== undefined) return mapped;
    if (layer.tag === STAGE_TAG) {
      return Number(((BigInt(this.store.epoch) & EPOCH_MASK) << EPOCH_SHIFT) | (stat.ino & 0xffffffffn));
    }
    return Number((BigInt(layer.tag) << TAG_SHIFT) | (stat.ino & ((1n << TAG_SHIFT) - 1n)));
  }

  /** The object `stat` in `layer` is shown as `shownIno` from now on (it moved up). */
  remember(layer: Layer, stat: BigIntStats, shownIno: number): void {
    const identity = identityOf(layer, stat);
    if (this.origins.get(identity) === shownIno) return;
    this.origins.set(identity, shownIno);
    if (layer.kind === 'upper' && this.store.appendTo) appendFileSync(this.store.appendTo, `${identity} ${shownIno}\n`);
  }

  /**
   * What a flush persisted for upper objects: "IDENTITY NUMBER" lines, "link\tIDENTITY\tPATH"
   * lines naming the links of multiply linked objects, and "forget\tIDENTITY" lines for objects
   * the flush removed from the upper (so the map holds only objects that exist).
   */
  adopt(lines: string): void {
    readMappingLines(lines, {
      number: (identity, ino) => this.origins.set(identity, Number(ino)),
      link: (identity, path) => {
        const set = this.names.get(identity) ?? new Set<string>();
        set.add(path);
        this.names.set(identity, set);
      },
      forget: (identity) => {
        this.origins.delete(identity);
        this.names.delete(identity);
      },
    });
  }

  /** Union paths a flush gave the upper object; some may have been renamed or removed since. */
  namesOf(layer: Layer, stat: BigIntStats): string[] {
    return [...(this.names.get(identityOf(layer, stat)) ?? [])];
  }

  /** Stage objects are gone once flushed: forget their mappings. */
  forgetStage(identities: Iterable<string>): void {
    for (const identity of identities) this.origins.delete(identity);
  }

  /** How many mappings are held, for stage and for upper objects (they must not pile up). */
  counts(): { stage: number; upper: number } {
    let stage = 0;
    for (const identity of this.origins.keys()) if (identity.startsWith('s:')) stage++;
    return { stage, upper: this.origins.size - stage + this.names.size };
  }

  private load(path: string): void {
    try {
      this.adopt(readFileSync(path, 'utf8'));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
}

/**
 * The mapping files in a directory, in the order they must be read: the compacted `map` first,
 * then one file per batch by batch number (batch-10 after batch-9).
 */
export function mappingFilesIn(dir: string): string[] {
  const order = (name: string) => (name === 'map' ? -1 : Number(/^batch-(\d+)$/.exec(name)?.[1] ?? NaN));
  try {
    return readdirSync(dir)
      .filter((name) => Number.isFinite(order(name)))
      .sort((a, b) => order(a) - order(b))
      .map((name) => join(dir, name));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}
