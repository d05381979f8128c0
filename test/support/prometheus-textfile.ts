// Reads the Prometheus textfile persistd writes with --metrics-file: `name{labels} value` lines,
// `#` comments. A metric that appears with several label sets is summed (tests compare totals).

import { readFileSync } from 'node:fs';

export type Metrics = Map<string, number>;

export function parseMetrics(text: string): Metrics {
  const metrics: Metrics = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${JSON.stringify(raw)}`);
    const value = Number(match[3]);
    metrics.set(match[1]!, (metrics.get(match[1]!) ?? 0) + value);
  }
  return metrics;
}

/** The file's metrics, or undefined while it does not exist yet. */
export function readMetrics(path: string): Metrics | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseMetrics(text);
}

export function metric(metrics: Metrics, name: string): number {
  const value = metrics.get(name);
  if (value === undefined) throw new Error(`metric ${name} is missing; present: ${[...metrics.keys()].join(', ')}`);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the file until `accept` holds; throws with the last content seen after `timeoutMs`. */
export async function waitForMetrics(path: string, accept: (metrics: Metrics) => boolean, timeoutMs: number, what: string): Promise<Metrics> {
  const deadline = Date.now() + timeoutMs;
  let last: Metrics | undefined;
  let lastError = '';
  for (;;) {
    try {
      last = readMetrics(path);
      if (last && accept(last)) return last;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const shown = last ? [...last].map(([k, v]) => `${k} ${v}`).join('\n') : '(no metrics file)';
      throw new Error(`metrics never showed ${what} within ${timeoutMs} ms; last seen:\n${shown}${lastError ? `\nlast error: ${lastError}` : ''}`);
    }
    await sleep(50);
  }
}
