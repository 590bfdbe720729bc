import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root, suiteFiles, testFiles } from '../scripts/test-files.mjs';

const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;
const files = suiteFiles;
const under = testFiles;

test('npm test runs every test file of the repository, unit and integration', () => {
  assert.match(scripts['test'] ?? '', /scripts\/run-tests\.mjs all/);
  assert.deepEqual([...files('all')].sort(), [...under('src'), ...under('test')].sort());
});

test('the unit suite holds the tests beside the code and none of the integration suites', () => {
  const unit = files('unit');
  assert.ok(unit.includes('src/data/balancing/round-robin.test.ts'));
  assert.ok(unit.includes('test/suite-manifest.test.ts'));
  assert.equal(unit.filter((f) => f.startsWith('test/integration/')).length, 0);
  assert.ok(files('integration').includes('test/integration/proxy-basics.test.ts'));
});
