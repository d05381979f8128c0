import type { Layer } from '../overlay/index.js';
import type { ChangeRecord } from './changes.js';

/** One frozen instant of the stage, on its way to the flash (oldest reach it first). */
export interface Snapshot {
  readonly seq: number;
  readonly layer: Layer;
  /** The newest snapshot whose changes this one carries (newer ones are folded in after a failure). */
  carriesUpTo: number;
  /** When its oldest change happened (ms since the epoch), or null. */
  since: number | null;
  /** Bytes applications wrote into it. */
  bytes: number;
  /** What it changed, per path. */
  readonly record: ChangeRecord;
  /** A flush of it failed: before the next attempt, newer snapshots are folded into it. */
  failed: boolean;
}
