/**
 * An LED under /sys/class/leds/NAME: `brightness` (0 off, max_brightness on) and `trigger`
 * (`timer` blinks, with delay_on/delay_off in ms; `none` hands the LED to brightness). An LED the
 * board does not have, or one we may not write, is worth one warning, never a failure: the button
 * works without its light. `restore()` puts back the trigger it had (e.g. heartbeat, mmc0).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LedOptions {
  /** Default /sys/class/leds (tests pass a temp dir). */
  root?: string;
  warn?: (message: string) => void;
}

export class Led {
  private readonly dir: string;
  private readonly warn: (message: string) => void;
  private broken = false;
  private original: { trigger: string | undefined; brightness: string | undefined } | undefined;

  constructor(
    readonly name: string,
    options: LedOptions = {},
  ) {
    this.dir = join(options.root ?? '/sys/class/leds', name);
    this.warn = options.warn ?? ((m) => process.stderr.write(`${m}\n`));
  }

  /** Lit, steadily. */
  on(): void {
    this.save();
    this.write('trigger', 'none') && this.write('brightness', this.max());
  }

  off(): void {
    this.save();
    this.write('trigger', 'none') && this.write('brightness', '0');
  }

  /** Blinking (the kernel's timer trigger); lit steadily if the board has no timer trigger. */
  blink(onMs = 100, offMs = 100): void {
    this.save();
    if (this.broken) return;
    try {
      writeFileSync(join(this.dir, 'trigger'), 'timer');
      writeFileSync(join(this.dir, 'delay_on'), String(onMs));
      writeFileSync(join(this.dir, 'delay_off'), String(offMs));
    } catch {
      this.on();
    }
  }

  /** Back to what it showed before we touched it. */
  restore(): void {
    if (!this.original || this.broken) return;
    const { trigger, brightness } = this.original;
    if (trigger !== undefined) this.write('trigger', trigger);
    if ((trigger === undefined || trigger === 'none') && brightness !== undefined) this.write('brightness', brightness);
  }

  private save(): void {
    if (this.original || this.broken) return;
    this.original = { trigger: currentTrigger(this.read('trigger')), brightness: this.read('brightness')?.trim() };
  }

  private max(): string {
    const max = this.read('max_brightness')?.trim();
    return max && /^\d+$/.test(max) && max !== '0' ? max : '1';
  }

  private read(file: string): string | undefined {
    try {
      return readFileSync(join(this.dir, file), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** False (after the one warning) when the LED cannot be driven. */
  private write(file: string, value: string): boolean {
    if (this.broken) return false;
    try {
      writeFileSync(join(this.dir, file), value);
      return true;
    } catch (err) {
      this.broken = true;
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? `no LED ${this.name} (${this.dir} does not exist)` : `cannot drive the LED ${this.name}: ${e.message}`;
      this.warn(`persist-button: warning: ${why}; carrying on without it`);
      return false;
    }
  }
}

/** `none [timer] heartbeat` → timer. */
export function currentTrigger(text: string | undefined): string | undefined {
  return text?.match(/\[([^\]]+)\]/)?.[1];
}
