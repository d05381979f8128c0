/** Sets of byte ranges [start, end), kept sorted and merged. */
export type Range = readonly [start: number, end: number];

export class Extents {
  private ranges: Range[] = [];

  static of(ranges: Iterable<Range>): Extents {
    const extents = new Extents();
    for (const [start, end] of ranges) extents.add(start, end);
    return extents;
  }

  get list(): readonly Range[] {
    return this.ranges;
  }

  get bytes(): number {
    return this.ranges.reduce((sum, [start, end]) => sum + end - start, 0);
  }

  clone(): Extents {
    return Extents.of(this.ranges);
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const kept: Range[] = [];
    let [s, e] = [start, end];
    for (const [a, b] of this.ranges) {
      if (b < s || a > e) kept.push([a, b]);
      else [s, e] = [Math.min(a, s), Math.max(b, e)];
    }
    kept.push([s, e]);
    this.ranges = kept.sort((x, y) => x[0] - y[0]);
  }

  addAll(other: Extents): void {
    for (const [start, end] of other.ranges) this.add(start, end);
  }

  /** Forget everything at or after `size` (a truncate). */
  cut(size: number): void {
    this.ranges = this.ranges.filter(([start]) => start < size).map(([start, end]) => [start, Math.min(end, size)] as const);
  }

  /** [start, end) split into pieces, each inside the set or outside it. */
  split(start: number, end: number): { start: number; end: number; inside: boolean }[] {
    const pieces: { start: number; end: number; inside: boolean }[] = [];
    let at = start;
    for (const [a, b] of this.ranges) {
      if (b <= at) continue;
      if (a >= end) break;
      if (a > at) pieces.push({ start: at, end: a, inside: false });
      pieces.push({ start: Math.max(a, at), end: Math.min(b, end), inside: true });
      at = Math.min(b, end);
      if (at >= end) break;
    }
    if (at < end) pieces.push({ start: at, end, inside: false });
    return pieces;
  }
}
