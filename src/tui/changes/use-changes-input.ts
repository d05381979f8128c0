/** The changes list's keys: ↑/↓ j/k, PgUp/PgDn, g/G (and Home/End), space marks. */
import { useKeys } from '../use-keys.js';
import type { ChangesState } from './use-changes-state.js';

export function useChangesInput(state: ChangesState, { isActive }: { isActive: boolean }): void {
  useKeys(
    (input, key) => {
      if (key.downArrow || input === 'j') state.move(1);
      else if (key.upArrow || input === 'k') state.move(-1);
      else if (key.pageDown || (key.ctrl && input === 'f')) state.pageDown();
      else if (key.pageUp || (key.ctrl && input === 'b')) state.pageUp();
      else if (key.home || input === 'g') state.home();
      else if (key.end || input === 'G') state.end();
      else if (input === ' ') state.toggleMark();
    },
    { isActive },
  );
}
