/**
 * FLASH/state.json: what must survive a reboot besides the upper. For now the stage epoch: a
 * counter bumped at every start, so that stage inode numbers (tmpfs restarts numbering at every
 * boot) never collide with numbers already shown and persisted.
 */
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../overlay/errors.js';

interface State {
  epoch: number;
}

export async function nextEpoch(flashDir: string): Promise<number> {
  const path = join(flashDir, 'state.json');
  let state: State = { epoch: 0 };
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as State;
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
  }
  const next: State = { epoch: (state.epoch ?? 0) + 1 };
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w', 0o644);
  try {
    await file.writeFile(JSON.stringify(next) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  return next.epoch;
}
