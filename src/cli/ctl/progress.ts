/**
 * A progress line for `persistctl commit` on a terminal, from the flush events. They come on the
 * same connection as the commit's reply (the client matches replies by id and passes events to
 * subscribers meanwhile). Progress is a nicety: if subscribing fails, the commit goes on without it.
 */
import type { Control, Event } from '../../control/protocol.js';
import { formatBytes } from './format.js';

export async function withCommitProgress<T>(control: Control, commit: () => Promise<T>, out: NodeJS.WriteStream = process.stdout): Promise<T> {
  let listening = true;
  let shown = false;
  let batches = 0;
  let doneBytes = 0;
  const show = (text: string) => {
    out.write(`\r\x1b[K${text}`);
    shown = true;
  };
  const onEvent = (event: Event) => {
    if (!listening) return;
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
    await control.subscribe(onEvent);
  } catch {
    // no progress line, the same commit
  }
  try {
    return await commit();
  } finally {
    listening = false;
    if (shown) out.write('\r\x1b[K');
  }
}
