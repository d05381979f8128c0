/** While a question is open, every key answers it: y (or Y) is yes, anything else no. */
import { useInput } from 'ink';
import type { ConfirmState } from './use-confirm-state.js';

export function useConfirmInput(state: ConfirmState): void {
  useInput((input) => state.answer(input === 'y' || input === 'Y'), { isActive: state.question !== null });
}
