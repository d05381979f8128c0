/**
 * A progress line for `persistctl commit` on a terminal. The commit request's connection is busy
 * waiting for its one reply, so the flush events come on a second connection. Progress is a
 * nicety: if that connection fails, the commit goes on without it.
 */
import { connectControl } from '../../control/client.js';
import type { Control, Event } from '../../control/protocol.js';
import { formatBytes } from './format.js';

export async function withCommitProgress<T>(socketPath: string, commit: () => Promise<T>, out: NodeJS.WriteStream = process.stdout): Promise<T> {
  let events: Control | null = null;
  let shown = false;
  let batches = 0;
  let doneBytes = 0;
  const show = (text: string) => {
    out.write(`\r\x1b[K${text}`);
    shown = true;
  };
  const onEvent = (event: Event) => {
    switch (event.event) {
      case 'flush-started':
        show(`committing: batch ${batches + 1}, ${formatBytes(doneBytes)} written so far`);
        break;
      case 'flush-progress':
        // `bytes`: how far the current batch has got.
        show(`committing: batch ${batches + 1}, ${formatBytes(doneBytes + event.bytes)} written so far`);
        break;
      case 'flush-finished':
        batches++;
        doneBytes += event.bytes;
        show(`committing: ${batches} ${batches === 1 ? 'batch' : 'batches'} done, ${formatBytes(doneBytes)} written`);
        break;
      default:
        break;
    }
  };
  try {
    events = await connectControl(socketPath, { timeoutMs: 2000 });
    await events.subscribe(onEvent);
  } catch {
    events?.close();
    events = null;
  }
  try {
    return await commit();
  } finally {
    events?.close();
    if (shown) out.write('\r\x1b[K');
  }
}
