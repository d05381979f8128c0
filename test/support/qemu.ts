// One QEMU virtual machine for the boot tests: TCG (no KVM here), the serial console in a file
// that a test waits on, QMP for keys held for a set time, and a power cut (SIGKILL). Cleanup
// kills it whatever state it is in; it carries the run's PERSIST_TEST_RUN like every child, so
// scripts/cleanup-tests.sh sweeps it too.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';

export interface VmOptions {
  kernel: string;
  initrd: string;
  append: string;
  /** Disks in order (vda, vdb, ...); `readonly` ones cannot be written by the guest. */
  disks: { file: string; readonly?: boolean }[];
  /** Where the serial log and the QMP socket go. */
  dir: string;
  name: string;
  memoryMiB?: number;
}

export class Vm {
  readonly log: string;
  private readonly qmpPath: string;
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(cleanup: Cleanup, options: VmOptions) {
    this.log = join(options.dir, `${options.name}.serial.log`);
    this.qmpPath = join(options.dir, `${options.name}.qmp`);
    const drives = options.disks.flatMap((disk) => ['-drive', `file=${disk.file},format=raw,if=virtio${disk.readonly ? ',readonly=on' : ''}`]);
    this.child = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-m', String(options.memoryMiB ?? 1024), '-smp', '1', '-display', 'none', '-no-reboot',
        '-serial', `file:${this.log}`, '-qmp', `unix:${this.qmpPath},server,nowait`, '-monitor', 'none',
        '-kernel', options.kernel, '-initrd', options.initrd, '-append', options.append, ...drives],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    this.exited = new Promise((done) => this.child.once('exit', (code) => done(code)));
    void this.exited.then((code) => {
      if (code !== 0 && stderr.trim()) console.error(`qemu ${options.name} (exit ${code}): ${stderr.trim()}`);
    });
    cleanup.add(`kill the VM ${options.name}`, () => this.powerCut());
  }

  /** The serial console so far. */
  output(): string {
    try {
      return readFileSync(this.log, 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits until the console shows `pattern`; fails with the console's last lines. */
  async waitFor(pattern: RegExp, what: string, timeoutMs = 180_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const match = this.output().match(pattern);
      if (match) return match;
      if (exited || Date.now() > deadline) {
        const tail = this.output().split('\n').slice(-40).join('\n');
        throw new Error(`${exited ? 'the VM stopped' : 'timed out'} before ${what}; its console's last lines:\n${tail}`);
      }
      await new Promise((next) => setTimeout(next, 200));
    }
  }

  /** Waits for the guest to power off or reboot (-no-reboot makes QEMU exit either way). */
  async stopped(timeoutMs = 120_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the VM did not stop within ${timeoutMs / 1000} s; its console:\n${this.output().split('\n').slice(-30).join('\n')}`)), timeoutMs);
    });
    try {
      await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Holds a key (a QEMU qcode: f12, power, ...) for `ms`, like a finger on a button. */
  async holdKey(qcode: string, ms: number): Promise<void> {
    const key = (down: boolean) => ({ execute: 'input-send-event', arguments: { events: [{ type: 'key', data: { down, key: { type: 'qcode', data: qcode } } }] } });
    await this.qmp([key(true)]);
    await new Promise((next) => setTimeout(next, ms));
    await this.qmp([key(false)]);
  }

  /** A power cut: the process is killed, nothing is flushed or synced. */
  async powerCut(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  private qmp(commands: object[]): Promise<void> {
    return new Promise((done, fail) => {
      const socket = createConnection(this.qmpPath);
      const queue = [{ execute: 'qmp_capabilities' }, ...commands];
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('error', fail);
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
          const reply = JSON.parse(buffer.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string } };
          buffer = buffer.slice(nl + 1);
          if (reply.error) {
            socket.destroy();
            fail(new Error(`QMP: ${reply.error.desc}`));
            return;
          }
          if (reply.QMP !== undefined || reply.return !== undefined) {
            const next = queue.shift();
            if (next) socket.write(`${JSON.stringify(next)}\n`);
            else {
              socket.end();
              done();
            }
          }
        }
      });
    });
  }
}
