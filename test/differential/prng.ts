// Seeded choices of operations: the same seed gives the same operations on every machine.

import { mulberry32 } from '../support/mulberry32.js';

export class Random {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  float(): number {
    return this.next();
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }
}

/** The bytes a Content description stands for. */
export function bytesOf(content: { length: number; seed: number } | { hex: string }): Buffer {
  return 'hex' in content ? Buffer.from(content.hex, 'hex') : contentBytes(content.length, content.seed);
}

/**
 * Deterministic file content: `length` bytes derived from `seed`. Operations carry only
 * (length, seed) so that each JSON line stays short, and both unions get identical bytes.
 */
export function contentBytes(length: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
