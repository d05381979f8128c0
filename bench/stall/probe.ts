// The processes of bench/stall that touch the mount (never the benchmark's own process, never the
// daemon's). Each prints one JSON line on stdout when done.
//
//   node probe.js reader STOPFILE FILE...   loop stat()+open()+read()+close() over FILEs until
//                                           STOPFILE exists; report the worst iteration
//   node probe.js bulk DIR COUNT BYTES      write COUNT files of BYTES into DIR (held by backpressure)
//   node probe.js fsync FILE BYTES          write BYTES to FILE, then fsync it (held by --fsync-honor)

import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const pause = new Int32Array(new SharedArrayBuffer(4));
const report = (value: object): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

function reader(stopFile: string, files: string[]): void {
  const buf = Buffer.alloc(64 * 1024);
  const latencies: number[] = [];
  let worstMs = 0;
  let worstAt = 0;
  let errors = 0;
  const started = Date.now();
  while (!existsSync(stopFile)) {
    for (const file of files) {
      const t0 = now();
      try {
        statSync(file);
        const fd = openSync(file, 'r');
        fstatSync(fd);
        readSync(fd, buf, 0, buf.length, 0);
        closeSync(fd);
      } catch {
        errors++;
      }
      const ms = now() - t0;
      latencies.push(ms);
      if (ms > worstMs) {
        worstMs = ms;
        worstAt = Date.now();
      }
    }
    Atomics.wait(pause, 0, 0, 1); // about 1 ms between rounds: a steady reader, not a flood
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  report({ iterations: latencies.length, errors, worstMs, worstAtMs: worstAt - started, p50Ms: pct(0.5), p99Ms: pct(0.99), startedAt: started });
}

function bulk(dir: string, count: number, bytes: number): void {
  const data = Buffer.alloc(bytes, 0x5a);
  const started = Date.now();
  let errors = 0;
  let slowestWriteMs = 0;
  for (let i = 0; i < count; i++) {
    try {
      const fd = openSync(join(dir, `bulk-${i}`), 'w');
      for (let off = 0; off < bytes; off += 1024 * 1024) {
        const t0 = now();
        writeSync(fd, data, off, Math.min(1024 * 1024, bytes - off));
        slowestWriteMs = Math.max(slowestWriteMs, now() - t0);
      }
      closeSync(fd);
    } catch {
      errors++;
    }
  }
  report({ errors, slowestWriteMs, totalMs: Date.now() - started, startedAt: started });
}

function fsync(file: string, bytes: number): void {
  const started = Date.now();
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.alloc(bytes, 0x33));
  const t0 = now();
  fsyncSync(fd);
  const fsyncMs = now() - t0;
  closeSync(fd);
  report({ fsyncMs, totalMs: Date.now() - started, startedAt: started });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'reader') reader(args[0]!, args.slice(1));
else if (mode === 'bulk') bulk(args[0]!, Number(args[1]), Number(args[2]));
else if (mode === 'fsync') fsync(args[0]!, Number(args[1]));
else {
  process.stderr.write('usage: probe.js reader STOPFILE FILE... | bulk DIR COUNT BYTES | fsync FILE BYTES\n');
  process.exit(2);
}
