#!/usr/bin/env node
// Thin launcher: the button script lives in dist/ (built by `npm run build`, run by `npm ci` through prepare).
import '../dist/src/cli/persist-button.js';
