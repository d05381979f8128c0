#!/usr/bin/env node
// Thin launcher: the daemon lives in dist/ (built by `npm run build`, run by `npm ci` through prepare).
import '../dist/src/cli/persistd.js';
