import { test } from 'node:test';
import { checkStopCycles } from './helpers/stop-cycles.js';

/** 50 more of the 200 start/stop cycles (stop-cycles.test.ts has the first 50, and says why four files). */
test('50 start/stop cycles of real processes (2 of 4): every stop drains, logs "stopped" and exits 0 at once', () =>
  checkStopCycles(50));
