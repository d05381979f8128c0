// A child that runs as another uid must not read the checkout: a clone under /root (mode 0700)
// is closed to everyone but root. Such a child gets its code from a copy instead: the entry module
// and every module it imports by relative path, copied into a fresh world-readable directory under
// the temp dir (scripts/test.sh's per-run root, mode 0755), beside a package.json that keeps them
// ES modules. Only node: built-ins and relative imports are followed; an import of a package
// (node_modules) or a dynamic import() is refused here, at copy time, rather than failing only in
// a checkout that other users cannot read.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';
import { removeTreeUnlessMounted } from './tempdir.js';

export interface ModuleCopy {
  /** The copy's root directory (mode 0755): a good working directory for the child. */
  root: string;
  /** The entry module's path inside the copy: what to hand to `node`. */
  entry: string;
  /** Every copied module, relative to `root`. */
  files: string[];
}

// tsc keeps one import or re-export per statement; type-only imports are gone from its output.
const STATIC_IMPORT = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(/;

/** The entry module (a compiled .js file, e.g. `new URL('./executor.js', import.meta.url)`) and its relative imports. */
export function moduleClosure(entryUrl: string | URL): string[] {
  const entry = fileURLToPath(entryUrl);
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    if (DYNAMIC_IMPORT.test(source.replace(/\/\/.*$/gm, ''))) {
      throw new Error(`${file} uses import(), which a copy for another uid cannot follow`);
    }
    for (const match of source.matchAll(STATIC_IMPORT)) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
        throw new Error(
          `${file} imports '${specifier}': a module run as another uid may import only node: built-ins and ` +
            'relative modules (node_modules sits in the checkout, which other uids may not read)',
        );
      }
      pending.push(resolve(dirname(file), specifier));
    }
  }
  return [...seen];
}

/** Copies the entry module and its relative imports into a new directory that any uid can read. */
export function copyModuleForOtherUids(cleanup: Cleanup, entryUrl: string | URL): ModuleCopy {
  const files = moduleClosure(entryUrl);
  const base = commonDirectory(files);
  const root = mkdtempSync(join(tmpdir(), 'persist-code-'));
  cleanup.add(`remove ${root}`, () => removeTreeUnlessMounted(root));
  chmodSync(root, 0o755);
  writeWorldReadable(join(root, 'package.json'), '{ "type": "module" }\n');
  const copied: string[] = [];
  for (const file of files) {
    const target = join(root, relative(base, file));
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeWorldReadable(target, readFileSync(file));
    copied.push(relative(root, target));
  }
  // mkdir's mode is filtered by the umask; directories must be searchable by every uid.
  for (const directory of new Set(copied.map((file) => dirname(join(root, file))))) {
    for (let d = directory; d !== root && d.startsWith(root + sep); d = dirname(d)) chmodSync(d, 0o755);
  }
  return { root, entry: join(root, relative(base, fileURLToPath(entryUrl))), files: copied.sort() };
}

function writeWorldReadable(path: string, content: string | Buffer): void {
  writeFileSync(path, content);
  chmodSync(path, 0o644);
}

function commonDirectory(files: readonly string[]): string {
  let base = dirname(files[0]!);
  for (const file of files) {
    while (file !== base && !file.startsWith(base + sep)) base = dirname(base);
  }
  return base;
}
