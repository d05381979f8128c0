// The read-only root the benchmark's appliance boots from: a small tree with the directories an
// IoT application writes to, an SQLite database it ships with, and a 64 MiB data file for the
// random-write case. Built into a squashfs and loop-mounted, as on a device.

import { randomFillSync } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../test/support/command.js';

export const APP_LOG = 'var/log/app.log';
export const STATE_FILE = 'var/lib/app/state.json';
export const DATABASE = 'var/lib/app/db.sqlite';
export const BIG_FILE = 'var/lib/app/blob.bin';

export function buildApplianceTree(root: string, bigFileMiB: number): void {
  for (const directory of ['etc/app', 'usr/bin', 'usr/lib/app', 'var/log', 'var/lib/app', 'var/cache/app', 'root']) {
    mkdirSync(join(root, directory), { recursive: true });
  }
  for (const directory of ['tmp', 'var/tmp']) {
    mkdirSync(join(root, directory), { recursive: true });
    chmodSync(join(root, directory), 0o1777);
  }
  writeFileSync(join(root, 'etc/hostname'), 'appliance\n');
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/var/lib/app:/bin/false\n');
  writeFileSync(join(root, 'etc/app/app.conf'), 'interval_ms = 100\nsensor = temp0\nupload = https://example.invalid/\n');
  writeFileSync(join(root, 'usr/bin/app'), '#!/bin/sh\nexec true\n', { mode: 0o755 });
  writeFileSync(join(root, 'usr/lib/app/firmware.bin'), Buffer.alloc(256 * 1024, 0xa5));
  writeFileSync(join(root, APP_LOG), 'factory image: first boot\n');
  writeFileSync(join(root, 'var/log/app.log.1'), 'factory image: rotated log\n'.repeat(100));
  writeFileSync(join(root, STATE_FILE), `${JSON.stringify({ boot: 0, counter: 0, readings: [] })}\n`);
  run('sqlite3', [
    join(root, DATABASE),
    'CREATE TABLE readings (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, sensor TEXT NOT NULL, value REAL NOT NULL, payload TEXT);' +
      "INSERT INTO readings (ts, sensor, value, payload) VALUES (0, 'factory', 0, 'calibration');",
  ]);
  writeRandomFile(join(root, BIG_FILE), bigFileMiB * 1024 * 1024);
}

function writeRandomFile(path: string, size: number): void {
  const chunk = Buffer.alloc(1024 * 1024);
  const fd = openSync(path, 'w', 0o644);
  try {
    for (let written = 0; written < size; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, size - written));
    }
  } finally {
    closeSync(fd);
  }
}
