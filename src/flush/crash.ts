/**
 * Crash injection for the crash-point tests: PERSIST_CRASH_AT=N kills the daemon (SIGKILL, no
 * cleanup, like a power cut for the flash's point of view) at the N-th durability step of
 * flushing, counted over the process's life. Without the variable this costs one comparison.
 */
const crashAt = Number(process.env['PERSIST_CRASH_AT'] ?? 0);
let steps = 0;

/** A durability step happened; returns how many so far. */
export function step(): number {
  steps++;
  if (crashAt > 0 && steps === crashAt) process.kill(process.pid, 'SIGKILL');
  return steps;
}

export function stepsSoFar(): number {
  return steps;
}
