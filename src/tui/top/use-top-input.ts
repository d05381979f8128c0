/** The top-writers view's keys: +/- (or a digit) set the grouping depth, Esc or t go back. */
import { useKeys } from '../use-keys.js';
import type { TopState } from './use-top-state.js';

export function useTopInput(state: TopState, { isActive, onClose }: { isActive: boolean; onClose: () => void }): void {
  useKeys(
    (input, key) => {
      if (input === '+' || input === '=' || key.rightArrow) state.setDepth(state.depth + 1);
      else if (input === '-' || key.leftArrow) state.setDepth(state.depth - 1);
      else if (/^[0-9]$/.test(input)) state.setDepth(Number(input));
      else if (key.escape || input === 't') onClose();
    },
    { isActive },
  );
}
