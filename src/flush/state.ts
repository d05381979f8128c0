/**
 * FLASH/state.json: what must survive a reboot besides the upper. For now the stage epoch: a
 * counter bumped at every start, so that stage inode numbers (tmpfs restarts numbering at every
 * boot) never collide with numbers already shown and persisted.
 */
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../overlay/errors.js';
import { fsyncDir } from './inode-maps.js';

interface State {
  epoch: number;
}

/**
 * The epoch for this start: one more than the last start's, and above every epoch the persisted
 * inode maps hold (`floor`), so that even a lost or corrupt state.json cannot make it reuse one.
 */
export async function nextEpoch(flashDir: string, floor = 0): Promise<number> {
  const path = join(flashDir, 'state.json');
  let state: State = { epoch: 0 };
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as State;
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
  }
  const next: State = { epoch: Math.max(Number(state.epoch) || 0, floor) + 1 };
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w', 0o644);
  try {
    await file.writeFile(JSON.stringify(next) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  // Without this the rename may be lost in a power cut, and the next start reuse this epoch:
  // stage inode numbers shown now would then be shown again for other objects.
  fsyncDir(flashDir);
  return next.epoch;
}
