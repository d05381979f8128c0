/**
 * The filter's one-line text field. Not @inkjs/ui's TextInput: that one submits the value of its
 * last render, so "/etc" typed and Enter pressed within one frame (a quick typist, a paste, a
 * script driving the terminal) applied the empty prefix. Here the text lives in a ref that every
 * key updates at once, and a render shows it. useKeys hands over a pasted run key by key.
 */
import { Text } from 'ink';
import { useRef, useState } from 'react';
import { useKeys } from '../use-keys.js';

export interface FilterInputProps {
  initial: string;
  placeholder: string;
  onSubmit(value: string): void;
}

export function FilterInput({ initial, placeholder, onSubmit }: FilterInputProps) {
  const text = useRef(initial);
  const [shown, setShown] = useState(initial);
  useKeys((input, key) => {
    if (key.return) return onSubmit(text.current);
    if (key.backspace || key.delete) text.current = text.current.slice(0, -1);
    else if (key.ctrl && input === 'u') text.current = '';
    else if (key.ctrl || key.meta || key.escape || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return;
    else text.current += input.replace(/\p{Cc}/gu, '');
    setShown(text.current);
  });
  return shown === '' ? <Text dimColor>{placeholder}</Text> : <Text>{shown}<Text inverse> </Text></Text>;
}
