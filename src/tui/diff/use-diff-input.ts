/** The diff pane's keys while it has the focus: ↑/↓ j/k and PgUp/PgDn scroll, Esc closes. */
import { useKeys } from '../use-keys.js';
import type { DiffState } from './use-diff-state.js';

export function useDiffInput(state: DiffState, { isActive, height, onClose }: { isActive: boolean; height: number; onClose: () => void }): void {
  useKeys(
    (input, key) => {
      if (key.downArrow || input === 'j') state.scrollBy(1, height);
      else if (key.upArrow || input === 'k') state.scrollBy(-1, height);
      else if (key.pageDown || input === ' ') state.scrollBy(Math.max(1, height - 1), height);
      else if (key.pageUp) state.scrollBy(-Math.max(1, height - 1), height);
      else if (key.home || input === 'g') state.scrollBy(-Infinity, height);
      else if (key.end || input === 'G') state.scrollBy(Infinity, height);
      else if (key.escape) onClose();
    },
    { isActive },
  );
}
