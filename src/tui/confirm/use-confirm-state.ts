/**
 * y/n questions in the footer. ask() takes one or more questions, asked one after the other; it
 * resolves true only if every one was answered y. Anything but y cancels.
 */
import { useCallback, useRef, useState } from 'react';

export interface ConfirmState {
  question: string | null;
  ask(questions: readonly string[]): Promise<boolean>;
  answer(yes: boolean): void;
}

interface Pending {
  questions: readonly string[];
  at: number;
  done: (yes: boolean) => void;
}

export function useConfirmState(): ConfirmState {
  const [question, setQuestion] = useState<string | null>(null);
  const pending = useRef<Pending | null>(null);

  const ask = useCallback(
    (questions: readonly string[]) =>
      new Promise<boolean>((done) => {
        pending.current?.done(false);
        if (questions.length === 0) {
          pending.current = null;
          done(true);
          return;
        }
        pending.current = { questions, at: 0, done };
        setQuestion(questions[0]!);
      }),
    [],
  );

  const answer = useCallback((yes: boolean) => {
    const p = pending.current;
    if (!p) return;
    if (yes && p.at + 1 < p.questions.length) {
      p.at++;
      setQuestion(p.questions[p.at]!);
      return;
    }
    pending.current = null;
    setQuestion(null);
    p.done(yes);
  }, []);

  return { question, ask, answer };
}
