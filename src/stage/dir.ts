/**
 * The stage directory (--stage, a tmpfs): `top` is the writable layer, `frozen-N` are snapshots
 * being flushed, `work` is scratch space. The stage is RAM: whatever a previous run left there
 * was never flushed and is not trusted (it may be half a snapshot); it is removed at start, with
 * a loud line if there was anything.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { copyMetadata } from '../overlay/metadata.js';

export interface StageDirs {
  top: string;
  work: string;
}

export function prepareStage(stageDir: string, rootFrom: string, log: (line: string) => void): StageDirs {
  const leftovers = readdirSync(stageDir).filter((name) => name === 'top' || name.startsWith('frozen-'));
  const unflushed = leftovers.some((name) => readdirSync(join(stageDir, name)).length > 0);
  if (unflushed) log(`persistd: discarding unflushed changes a previous run left in ${stageDir}`);
  for (const name of leftovers) rmSync(join(stageDir, name), { recursive: true, force: true });
  const top = join(stageDir, 'top');
  mkdirSync(top);
  // The union's root shows the root of the layer below until someone changes it.
  if (existsSync(rootFrom)) copyMetadata(rootFrom, top);
  return { top, work: join(stageDir, 'work') };
}
