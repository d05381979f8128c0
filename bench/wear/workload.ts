// The workload, run as its own process inside the mount under test (never inside the process that
// serves a FUSE mount). Two scenarios; each prints one JSON line with what it did.
//
//   node workload.js iot ROOT SECONDS SEED
//     for SECONDS, the way a small IoT application behaves:
//       - a logger appends a ~120-byte line to /var/log/app.log every 100 ms (file kept open, no fsync)
//       - /var/lib/app/state.json rewritten atomically every second (write temp, fsync, rename)
//       - one SQLite transaction of 5 inserts every second into /var/lib/app/db.sqlite (sqlite3 CLI,
//         default rollback journal, synchronous=FULL)
//       - every 3 s a 256 KiB job file in /var/tmp and a 16 KiB scratch file in /tmp, deleted 3 s later
//   node workload.js random-writes FILE COUNT BLOCK SEED
//     COUNT pwrites of BLOCK random bytes at random BLOCK-aligned offsets into FILE, then fsync.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, fstatSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { APP_LOG, DATABASE, STATE_FILE } from './appliance.js';

/** A small deterministic PRNG (xorshift32) so every system gets the same bytes and offsets. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }
  below(limit: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * limit);
  }
  fill(buffer: Buffer): Buffer {
    for (let i = 0; i + 4 <= buffer.length; i += 4) buffer.writeUInt32LE(this.next(), i);
    return buffer;
  }
  text(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let result = '';
    for (let i = 0; i < length; i++) result += alphabet[this.below(alphabet.length)];
    return result;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A long-lived sqlite3 CLI; each transaction waits for an acknowledgement line. */
class SqliteSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(database: string) {
    this.child = spawn('sqlite3', ['-batch', database], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Runs `sql` and resolves once sqlite3 has finished it. */
  execute(sql: string, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sqlite3 gave no answer within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line === 'ack') resolve();
        else reject(new Error(`sqlite3 answered '${line}'; stderr: ${this.stderr}`));
      });
      this.child.stdin.write(`${sql}\nSELECT 'ack';\n`);
    });
  }

  async close(): Promise<void> {
    this.child.stdin.end('.quit\n');
    const code = await this.exited;
    if (code !== 0 || this.stderr !== '') throw new Error(`sqlite3 exited ${code}; stderr: ${this.stderr}`);
  }
}

async function iot(root: string, seconds: number, seed: number): Promise<object> {
  const random = new Random(seed);
  const deadline = Date.now() + seconds * 1000;
  const stats = { lines: 0, logBytes: 0, stateWrites: 0, stateBytes: 0, transactions: 0, rows: 0, rowBytes: 0, tempFiles: 0, tempBytes: 0, appBytes: 0 };

  const log = openSync(join(root, APP_LOG), 'a');
  const sqlite = new SqliteSession(join(root, DATABASE));
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
  };

  const logger = async (): Promise<void> => {
    for (let next = Date.now(); Date.now() < deadline && failure === undefined; ) {
      const line = `${new Date().toISOString()} app[42]: sensor=temp0 value=${(20 + random.below(1000) / 100).toFixed(2)} id=${random.text(48)}\n`;
      writeSync(log, line);
      stats.lines++;
      stats.logBytes += Buffer.byteLength(line);
      next += 100;
      await sleep(Math.max(0, next - Date.now()));
    }
  };

  const stateWriter = async (): Promise<void> => {
    const path = join(root, STATE_FILE);
    for (let next = Date.now(), counter = 1; Date.now() < deadline && failure === undefined; counter++) {
      const readings = Array.from({ length: 16 }, () => ({ sensor: `s${random.below(8)}`, value: random.below(100_000) / 100 }));
      const body = `${JSON.stringify({ boot: 1, counter, updated: new Date().toISOString(), readings, note: random.text(512) }, null, 2)}\n`;
      const temp = `${path}.tmp`;
      const fd = openSync(temp, 'w', 0o644);
      try {
        writeSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
      stats.stateWrites++;
      stats.stateBytes += Buffer.byteLength(body);
      next += 1000;
      await sleep(Math.max(0, next - Date.now()));
    }
  };

  const inserter = async (): Promise<void> => {
    for (let next = Date.now(); Date.now() < deadline && failure === undefined; ) {
      const rows = Array.from(
        { length: 5 },
        () => `(${Date.now()}, 'temp${random.below(4)}', ${random.below(10_000) / 100}, '${random.text(96)}')`,
      );
      await sqlite.execute(`BEGIN; INSERT INTO readings (ts, sensor, value, payload) VALUES ${rows.join(', ')}; COMMIT;`);
      stats.transactions++;
      stats.rows += rows.length;
      stats.rowBytes += rows.reduce((sum, row) => sum + row.length, 0);
      next += 1000;
      await sleep(Math.max(0, next - Date.now()));
    }
  };

  const tempFiles = async (): Promise<void> => {
    let previous: string[] = [];
    for (let next = Date.now(), n = 0; Date.now() < deadline && failure === undefined; n++) {
      for (const path of previous) rmSync(path);
      previous = [];
      for (const [path, size] of [[join(root, 'var/tmp', `job-${n}.tmp`), 256 * 1024], [join(root, 'tmp', `scratch-${n}`), 16 * 1024]] as const) {
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, random.fill(Buffer.alloc(size)));
        } finally {
          closeSync(fd);
        }
        previous.push(path);
        stats.tempFiles++;
        stats.tempBytes += size;
      }
      next += 3000;
      await sleep(Math.max(0, next - Date.now()));
    }
    for (const path of previous) rmSync(path);
  };

  await Promise.all([logger(), stateWriter(), inserter(), tempFiles()].map((task) => task.catch(fail)));
  closeSync(log);
  await sqlite.close().catch(fail);
  if (failure !== undefined) throw failure;
  stats.appBytes = stats.logBytes + stats.stateBytes + stats.tempBytes + stats.rowBytes;
  return { scenario: 'iot', seconds, ...stats };
}

function randomWrites(file: string, count: number, block: number, seed: number): object {
  const random = new Random(seed);
  const fd = openSync(file, 'r+');
  const offsets = new Set<number>();
  try {
    const blocks = Math.floor(fstatSync(fd).size / block);
    if (blocks === 0) throw new Error(`${file} is smaller than one block`);
    const buffer = Buffer.alloc(block);
    for (let i = 0; i < count; i++) {
      const offset = random.below(blocks) * block;
      writeSync(fd, random.fill(buffer), 0, block, offset);
      offsets.add(offset);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { scenario: 'random-writes', writes: count, block, distinctBlocks: offsets.size, appBytes: count * block };
}

async function main(argv: string[]): Promise<void> {
  const [scenario, ...args] = argv;
  let result: object;
  if (scenario === 'iot' && args.length === 3) {
    result = await iot(args[0]!, Number(args[1]), Number(args[2]));
  } else if (scenario === 'random-writes' && args.length === 4) {
    result = randomWrites(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]));
  } else {
    throw new Error('usage: workload.js iot ROOT SECONDS SEED | random-writes FILE COUNT BLOCK SEED');
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`workload: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
