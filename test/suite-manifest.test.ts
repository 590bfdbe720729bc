import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;
const listed = (script: string): string[] =>
  (scripts[script] ?? '')
    .split(/\s+/)
    .filter((word) => word.endsWith('.test.ts'))
    .sort();

// Node 20's --test expands no globs, so the suites are listed by hand: a test file that is not listed never runs.
test('npm test lists every test file of the repository', () => {
  assert.deepEqual(listed('test'), [...testFiles('src'), ...testFiles('test')].sort());
});

test('npm run test:unit lists every unit test beside the code (and the suite manifest)', () => {
  assert.deepEqual(listed('test:unit'), [...testFiles('src'), 'test/suite-manifest.test.ts'].sort());
});
