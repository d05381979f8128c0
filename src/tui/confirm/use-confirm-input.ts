/** While a question is open, every key answers it: y (or Y) is yes, anything else no. */
import { useKeys } from '../use-keys.js';
import type { ConfirmState } from './use-confirm-state.js';

export function useConfirmInput(state: ConfirmState): void {
  useKeys((input) => state.answer(input === 'y' || input === 'Y'), { isActive: state.question !== null });
}
