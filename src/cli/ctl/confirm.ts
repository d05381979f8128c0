/**
 * The reset's confirmation on a terminal: two questions, each defaulting to no, so that neither
 * a stray Enter nor a habit of answering "y" once wipes a device. End of input (Ctrl-D) is no.
 */
import { createInterface } from 'node:readline/promises';

export async function confirmTwice(first: string, second: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const closed = new Promise<null>((done) => prompt.once('close', () => done(null)));
  try {
    for (const question of [first, second]) {
      const answer = await Promise.race([prompt.question(`${question} [y/N] `).catch(() => null), closed]);
      if (answer === null || !/^y(es)?$/i.test(answer.trim())) return false;
    }
    return true;
  } finally {
    prompt.close();
  }
}
