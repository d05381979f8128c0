/**
 * Kept apart from ./harness.js, which loads Ink: index.test.ts must not load Ink before runTui
 * does, since Ink reads the CI variables once, at load.
 */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '');
}
