#!/usr/bin/env node
import '../dist/src/cli/persistctl.js';
