#!/usr/bin/env -S node --max-semi-space-size=1
// Thin launcher: the daemon lives in dist/ (built by `npm run build`, run by `npm ci` through prepare).
// --max-semi-space-size=1: V8's young generation grows to 16 MiB semi-spaces by default; 1 MiB
// keeps the daemon's peak RSS ~12 MiB lower at no measured cost in speed (BENCHMARKS.md).
import '../dist/src/cli/persistd.js';
