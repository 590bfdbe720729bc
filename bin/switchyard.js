#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (built by `npm ci` through the `prepare` script).
import { main } from '../dist/cli/main.js';

process.exit(await main(process.argv));
