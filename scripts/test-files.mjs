// The suites `npm test` runs, found on disk: every *.test.ts beside the code (unit) and under test/ (integration).
// Node 20's --test expands no globs, so this finds them; a file that exists runs, none is listed by hand.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Every `*.test.ts` under `dir` (relative to the repository root), sorted. */
export function testFiles(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .filter((file) => !file.split('/').includes('node_modules'))
    .sort();
}

/** The files of one suite: `unit` (src/ and test/*.test.ts), `integration` (test/integration/), or `all`. */
export function suiteFiles(suite) {
  const unit = [...testFiles('src'), ...testFiles('test').filter((f) => !f.startsWith('test/integration/'))];
  const integration = testFiles('test/integration');
  if (suite === 'unit') return unit;
  if (suite === 'integration') return integration;
  if (suite === 'all') return [...unit, ...integration];
  throw new Error(`unknown suite ${suite} (unit | integration | all)`);
}
