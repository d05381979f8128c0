// A stack of undo steps. Tests mount things, start daemons and create loop devices; whatever
// happens (assertion failure, hung daemon, exception in setup) every one of those must be undone,
// newest first, and one failing step must not stop the others from running.

export type CleanupStep = () => void | Promise<void>;

export class Cleanup {
  private readonly steps: { label: string; run: CleanupStep }[] = [];

  /** Registers an undo step; steps run in reverse order of registration. */
  add(label: string, run: CleanupStep): void {
    this.steps.push({ label, run });
  }

  /** Runs every step newest first. Never throws: failures are returned (and logged). */
  async runAll(): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (error) {
        const message = `cleanup "${step.label}" failed: ${describeError(error)}`;
        failures.push(message);
        process.stderr.write(`${message}\n`);
      }
    }
    return failures;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
