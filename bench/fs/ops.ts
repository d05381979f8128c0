// Workload steps that a shell would measure badly (thousands of process starts): run as a child
// process (pinned with the workload when --pin) and print the elapsed milliseconds of the step
// itself, without node's own start-up.
//
//   node dist/bench/fs/ops.js create DIR COUNT BYTES   COUNT files of BYTES each, then syncfs (sync -f)
//   node dist/bench/fs/ops.js append DIR               append 1 byte to every file under DIR

import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

const [op, dir, ...rest] = process.argv.slice(2);
if (!op || !dir) throw new Error('usage: ops.js create DIR COUNT BYTES | append DIR');
let ms: number;
if (op === 'create') {
  const count = Number(rest[0]);
  const body = Buffer.alloc(Number(rest[1]), 0x61);
  const started = performance.now();
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    if (i % 500 === 0) mkdirSync(join(dir, `d${i / 500}`));
    writeFileSync(join(dir, `d${Math.floor(i / 500)}`, `f${i}`), body);
  }
  execFileSync('sync', ['-f', dir]);
  ms = performance.now() - started;
} else if (op === 'append') {
  const files = filesUnder(dir); // the listing is not part of the step
  const started = performance.now();
  for (const file of files) appendFileSync(file, 'x');
  ms = performance.now() - started;
  if (files.length === 0) throw new Error(`no files under ${dir}`);
} else {
  throw new Error(`unknown op ${op}`);
}
process.stdout.write(`${ms}\n`);
