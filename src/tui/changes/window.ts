/**
 * The changes list's pure logic: entries grouped under their directory, the window of rows that
 * fits the screen, and a small cache of pages around it. Nothing here knows of React or of the
 * daemon; entries are addressed by their index in the daemon's sorted list.
 */
import type { ChangeEntry } from '../../control/protocol.js';

/** Entries per `changes` request. */
export const PAGE_SIZE = 200;
/** Pages kept in memory; the ones farthest from the window go first. */
export const MAX_PAGES = 8;

export type Row =
  /** A directory's header; `continued`: its first entries are above the window. */
  | { kind: 'dir'; dir: string; continued: boolean }
  | { kind: 'entry'; index: number; entry: ChangeEntry }
  /** An entry whose page has not arrived yet. */
  | { kind: 'loading'; index: number };

export type Lookup = (index: number) => ChangeEntry | undefined;

export function dirOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

export function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

/**
 * The rows shown from entry `top` on, at most `height` of them: a directory header before the
 * first entry and before every entry whose directory differs from the previous one's. A header
 * never ends the window (it needs an entry under it), except when one row is all there is.
 */
export function layoutRows(top: number, height: number, total: number, get: Lookup): Row[] {
  const rows: Row[] = [];
  let prevDir: string | null = top > 0 ? dirOfEntry(get(top - 1)) : null;
  for (let i = top; i < total && rows.length < height; i++) {
    const entry = get(i);
    if (!entry) {
      rows.push({ kind: 'loading', index: i });
      prevDir = null;
      continue;
    }
    const dir = dirOf(entry.path);
    if (i === top || dir !== prevDir) {
      if (rows.length + 2 <= height) rows.push({ kind: 'dir', dir, continued: i === top && prevDir === dir });
      else if (rows.length > 0) break;
    }
    rows.push({ kind: 'entry', index: i, entry });
    prevDir = dir;
  }
  return rows;
}

function dirOfEntry(entry: ChangeEntry | undefined): string | null {
  return entry ? dirOf(entry.path) : null;
}

export function rowIndex(row: Row): number | null {
  return row.kind === 'dir' ? null : row.index;
}

/** Entries (loaded or not) among the rows. */
export function entryCount(rows: readonly Row[]): number {
  return rows.reduce((n, row) => n + (row.kind === 'dir' ? 0 : 1), 0);
}

function shows(rows: readonly Row[], cursor: number): boolean {
  return rows.some((row) => row.kind !== 'dir' && row.index === cursor);
}

/**
 * The first entry of a window that shows `cursor`, as close to `top` as possible (the window
 * scrolls only as far as it must), and filled to the bottom when the list allows it.
 */
export function scrollToCursor(top: number, cursor: number, height: number, total: number, get: Lookup): number {
  if (total <= 0 || height <= 0) return 0;
  const c = Math.max(0, Math.min(total - 1, cursor));
  let t = Math.max(0, Math.min(top, c));
  // Every entry takes at least a row: a cursor `height` entries further down cannot show.
  t = Math.max(t, c - height + 1);
  while (t < c && !shows(layoutRows(t, height, total, get), c)) t++;
  // Near the end of the list, pull earlier entries in rather than leave empty rows.
  while (t > 0 && layoutRows(t, height, total, get).length < height) {
    const earlier = layoutRows(t - 1, height, total, get);
    if (!shows(earlier, c) || earlier.length > height) break;
    t--;
  }
  return t;
}

export function pageOf(index: number, pageSize = PAGE_SIZE): number {
  return Math.floor(index / pageSize);
}

/** The pages holding entries `from`..`to` (inclusive). */
export function pagesFor(from: number, to: number, pageSize = PAGE_SIZE): number[] {
  if (to < from) return [];
  const pages: number[] = [];
  for (let p = pageOf(Math.max(0, from), pageSize); p <= pageOf(Math.max(0, to), pageSize); p++) pages.push(p);
  return pages;
}

interface CachedPage {
  /** The refresh generation the page was fetched in: older ones are shown until replaced. */
  generation: number;
  entries: ChangeEntry[];
}

export class PageCache {
  private readonly pages = new Map<number, CachedPage>();

  constructor(
    readonly pageSize = PAGE_SIZE,
    readonly maxPages = MAX_PAGES,
  ) {}

  get(index: number): ChangeEntry | undefined {
    if (index < 0) return undefined;
    return this.pages.get(pageOf(index, this.pageSize))?.entries[index % this.pageSize];
  }

  set(page: number, generation: number, entries: ChangeEntry[]): void {
    this.pages.set(page, { generation, entries });
  }

  isFresh(page: number, generation: number): boolean {
    return (this.pages.get(page)?.generation ?? -1) >= generation;
  }

  /** Drops the pages farthest from `near` until at most maxPages are left. */
  evict(near: number): void {
    if (this.pages.size <= this.maxPages) return;
    const byDistance = [...this.pages.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
    for (const page of byDistance.slice(0, this.pages.size - this.maxPages)) this.pages.delete(page);
  }

  /** The index of `path` in a page of `generation` or later, or -1. */
  indexOf(path: string, generation: number): number {
    for (const [page, cached] of this.pages) {
      if (cached.generation < generation) continue;
      const i = cached.entries.findIndex((e) => e.path === path);
      if (i !== -1) return page * this.pageSize + i;
    }
    return -1;
  }

  /** Entries past the end of a list that shrank. */
  truncate(total: number): void {
    for (const page of this.pages.keys()) if (page * this.pageSize >= total) this.pages.delete(page);
  }

  clear(): void {
    this.pages.clear();
  }

  get size(): number {
    return this.pages.size;
  }
}
