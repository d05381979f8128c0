// The journal's format is versioned. A committed batch left by the previous format (no version
// field) is still applied at start; a corrupt manifest, or one from a newer format, stops the start
// with one clear line (exit 2) that says how to go on, and touches nothing; moving the batch aside,
// as that line says, gives a start that serves the upper as it is.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { startPersistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

const persistd = join(findRepoRoot(), 'bin', 'persistd.js');

describe('journal format: versions and corrupt manifests', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let flash: string;
  let lower: string;
  let stageRoot: string;
  const mnt = (): string => join(dir, 'mnt');
  const upper = (): string => join(flash, 'upper');
  const journal = (): string => join(flash, 'journal');

  /** A committed batch as a given format writes it: one new file `name` holding `text`. */
  function committedBatch(seq: number, manifest: string, name: string, text: string): string {
    const batch = join(journal(), `batch-${seq}`);
    mkdirSync(join(batch, 'objects'), { recursive: true });
    writeFileSync(join(batch, 'objects', '1'), text);
    writeFileSync(join(batch, 'manifest.json'), manifest.replace('NAME', name));
    return batch;
  }

  function startAndFail(): { status: number | null; stderr: string } {
    mkdirSync(join(stageRoot, 'failing'), { recursive: true });
    const result = spawnSync(process.execPath, [persistd, 'mount', '--lower', lower, '--upper', upper(), '--stage', join(stageRoot, 'failing'), mnt()], { encoding: 'utf8', timeout: 30_000 });
    return { status: result.status, stderr: result.stderr };
  }

  before(() => {
    dir = makeTempDir(cleanup);
    lower = join(dir, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc', 'hostname'), 'factory\n');
    flash = join(dir, 'flash');
    mkdirSync(upper(), { recursive: true });
    stageRoot = mountTmpfs(cleanup, join(dir, 'stage'), { size: '16m' });
    mkdirSync(mnt());
  });
  after(() => cleanup.runAll());

  it('applies a committed batch of the previous format (no version field)', async () => {
    committedBatch(3, '{"seq":3,"ops":[{"op":"put","path":"/NAME","object":"1"}]}', 'from-v1', 'old format\n');
    mkdirSync(join(stageRoot, 'a'));
    const daemon = await startPersistd(cleanup, { lowers: [lower], upper: upper(), stage: join(stageRoot, 'a'), mountpoint: mnt() });
    assert.equal(readFileSync(join(mnt(), 'from-v1'), 'utf8'), 'old format\n');
    assert.match(daemon.output(), /recovery: completed committed batch 3/);
    assert.equal((await daemon.stop()).code, 0);
  });

  it('refuses a corrupt committed manifest with one line that says what to do, and changes nothing', () => {
    const batch = committedBatch(9, '{"seq":9,"ops":[{"op":"put","pa', 'torn', 'x\n');
    const outcome = startAndFail();
    assert.equal(outcome.status, 2, outcome.stderr);
    const lines = outcome.stderr.trim().split('\n');
    assert.equal(lines.length, 1, outcome.stderr);
    assert.match(lines[0]!, /batch-9\/manifest\.json is corrupt/);
    assert.match(lines[0]!, /mv .*batch-9 .*batch-9\.corrupt/);
    assert.ok(existsSync(batch), 'the corrupt batch is left for the operator');
    assert.equal(existsSync(join(upper(), 'torn')), false);
  });

  it('starts once the corrupt batch is moved aside as the message says', async () => {
    renameSync(join(journal(), 'batch-9'), join(journal(), 'batch-9.corrupt'));
    mkdirSync(join(stageRoot, 'b'));
    const daemon = await startPersistd(cleanup, { lowers: [lower], upper: upper(), stage: join(stageRoot, 'b'), mountpoint: mnt() });
    assert.equal(readFileSync(join(mnt(), 'etc/hostname'), 'utf8'), 'factory\n');
    assert.equal(readFileSync(join(mnt(), 'from-v1'), 'utf8'), 'old format\n');
    assert.equal((await daemon.stop()).code, 0);
  });

  it('refuses a batch from a newer format', () => {
    committedBatch(12, '{"version":99,"seq":12,"ops":[{"op":"put","path":"/NAME","object":"1"}]}', 'future', 'x\n');
    const outcome = startAndFail();
    assert.equal(outcome.status, 2, outcome.stderr);
    assert.match(outcome.stderr, /format version 99, this persistd reads 1 to \d+/);
    assert.equal(existsSync(join(upper(), 'future')), false);
  });
});
