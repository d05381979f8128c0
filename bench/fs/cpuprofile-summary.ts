// Prints the busiest functions of a V8 .cpuprofile (node --cpu-prof): self time and total time
// (self plus callees), with "(idle)" showing how much of the run the JS thread waited.
//   node dist/bench/fs/cpuprofile-summary.js DIR_OR_FILE [TOP]

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [target, topArg] = process.argv.slice(2);
if (!target) {
  console.error('usage: node dist/bench/fs/cpuprofile-summary.js DIR_OR_FILE [TOP]');
  process.exit(2);
}
const file = statSync(target).isDirectory() ? join(target, readdirSync(target).find((name) => name.endsWith('.cpuprofile')) ?? '') : target;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topArg ?? 20);

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const label = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
};

const sampleTime = new Map<number, number>();
profile.samples.forEach((id, i) => sampleTime.set(id, (sampleTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const self = new Map<string, number>();
const total = new Map<string, number>();
let sum = 0;
for (const [id, micros] of sampleTime) {
  sum += micros;
  const key = label(byId.get(id)!);
  self.set(key, (self.get(key) ?? 0) + micros);
  const counted = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const k = label(byId.get(at)!);
    if (counted.has(k)) continue; // recursion counts once
    counted.add(k);
    total.set(k, (total.get(k) ?? 0) + micros);
  }
}

const rows = (map: Map<string, number>): string =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([key, micros]) => `${(micros / 1000).toFixed(0).padStart(8)} ms ${((100 * micros) / sum).toFixed(1).padStart(5)} %  ${key}`)
    .join('\n');
console.log(`${file}: ${(sum / 1000).toFixed(0)} ms sampled\n-- self time --\n${rows(self)}\n-- total time --\n${rows(total)}`);
