import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatProblem, loadConfigFile } from '../../src/config/load-file.js';

/** The documentation's files, resolved from this file so the test runs from any working directory. */
const root = new URL('../../', import.meta.url);
const examplesDir = new URL('examples/', root);
const examples = readdirSync(examplesDir)
  .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
  .sort();

test('the examples directory holds the documented configurations', () => {
  for (const file of ['minimal.yaml', 'routing.yaml', 'env.yaml']) assert.ok(examples.includes(file), file);
});

for (const file of examples) {
  test(`examples/${file} is a valid configuration with its defaults`, async () => {
    // An empty environment: every ${VAR} in an example must have a default, so it validates on any machine.
    const loaded = await loadConfigFile(fileURLToPath(new URL(file, examplesDir)), {});
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
  });
}

test('examples/env.yaml takes its values from the environment when they are set', async () => {
  const loaded = await loadConfigFile(fileURLToPath(new URL('env.yaml', examplesDir)), {
    PORT: '9000',
    APP_A: 'http://10.0.0.5:3000',
    APP_A_WEIGHT: '3',
  });
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
  assert.equal(loaded.config.listeners[0]?.address, '0.0.0.0:9000');
  assert.deepEqual(
    loaded.config.services['app']?.endpoints.map((e) => [e.url, e.weight]),
    [
      ['http://10.0.0.5:3000', 3],
      ['http://127.0.0.1:3001', 1],
    ],
  );
});

test('the README quick start is the two commands a newcomer runs', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm test/);
});
