/** Width-bounded text: nothing the TUI prints may wrap. Widths count code points. */

export function length(text: string): number {
  return Array.from(text).length;
}

/** Keeps the end (the interesting part of a path): "…/log/syslog". */
export function truncateLeft(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return `…${chars.slice(chars.length - width + 1).join('')}`;
}

export function truncateRight(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  return `${chars.slice(0, width - 1).join('')}…`;
}

/** Exactly `width` columns: truncated on the right or padded. */
export function fit(text: string, width: number): string {
  const cut = truncateRight(text, width);
  return cut + ' '.repeat(Math.max(0, width - length(cut)));
}

/** One line of a possibly multi-line text. */
export function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline === -1 ? text : text.slice(0, newline);
}

export function clamp(value: number, low: number, high: number): number {
  return Math.max(low, Math.min(high, value));
}
