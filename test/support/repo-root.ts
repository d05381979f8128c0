// Tests run from dist/test/..., compiled from test/...; both sit under the repository root. Find
// it by walking up from the calling module instead of hard-coding a checkout path (CI clones the
// repository elsewhere).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findRepoRoot(fromModuleUrl: string = import.meta.url): string {
  let directory = dirname(fileURLToPath(fromModuleUrl));
  for (;;) {
    if (existsSync(join(directory, 'package.json')) && existsSync(join(directory, 'bin', 'persistd.js'))) {
      return directory;
    }
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no repository root (package.json + bin/persistd.js) above ${fromModuleUrl}`);
    directory = parent;
  }
}
