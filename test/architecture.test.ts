import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { root } from '../scripts/test-files.mjs';

/** Every TypeScript file under src/ (tests included), relative to the repository root. */
function sourceFiles(): string[] {
  return readdirSync(join(root, 'src'), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

const specifier = /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.[^'"]+)['"]|^\s*import\s*['"](\.[^'"]+)['"]/gm;

/** The files under src/ that `file` imports (value and type imports alike), by relative specifier. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(specifier)) {
    const spec = (match[1] ?? match[2])!;
    found.push(relative(root, resolve(root, dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return found;
}

/** One import cycle, if the graph of non-test files has any (a depth-first walk). */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') return [...path.slice(path.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const cycle = visit(next);
        if (cycle !== undefined) return cycle;
      }
    }
    path.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    if (state.get(file) !== undefined) continue;
    const cycle = visit(file);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

test('the import graph of src/ has no cycle', () => {
  const files = sourceFiles().filter((f) => !f.endsWith('.test.ts'));
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  assert.deepEqual(findCycle(graph), undefined);
});

test('the cycle finder finds a cycle when there is one', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
  ]);
  assert.deepEqual(findCycle(graph), ['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  assert.equal(
    findCycle(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', []],
      ]),
    ),
    undefined,
  );
});

/**
 * Files another line of work is splitting right now, with who: each must drop under the bound there (and then leave
 * this list, which the test below checks).
 */
const beingSplit: Readonly<Record<string, string>> = {
  'src/control/control-plane.ts': 'the fleet work (issue 13) rewrites it',
};

const linesOf = (file: string): number => readFileSync(join(root, file), 'utf8').split('\n').length - 1;

test('no source file is over 400 lines', () => {
  const long = sourceFiles()
    .filter((file) => beingSplit[file] === undefined)
    .map((file) => ({ file, lines: linesOf(file) }))
    .filter(({ lines }) => lines > 400);
  assert.deepEqual(long, []);
});

test('a file listed as being split is still over the bound (once split, it leaves the list)', () => {
  const done = Object.keys(beingSplit).filter((file) => linesOf(file) <= 400);
  assert.deepEqual(done, []);
});

/** Lints `code` as if it were the file at `path` (it need not exist) with the repository's rules. */
async function lintAs(path: string, code: string): Promise<string[]> {
  // Only the import rules, without type information: the fixture file need not be part of the TypeScript project.
  const eslint = new ESLint({
    cwd: root,
    overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    ruleFilter: ({ ruleId }) => ruleId.endsWith('no-restricted-imports'),
  });
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  const messages = result!.messages;
  assert.deepEqual(
    messages.filter((m) => m.fatal === true),
    [],
    'the fixture parses',
  );
  return messages.filter((m) => m.ruleId?.endsWith('no-restricted-imports')).map((m) => m.message);
}

const layerCases: ReadonlyArray<readonly [string, string]> = [
  ['src/core/fixture-layer.ts', "import { configSchema } from '../config/schema.js';"],
  ['src/admin/fixture-layer.ts', "import { DataPlane } from '../data/data-plane.js';"],
  ['src/cluster/fixture-layer.ts', "import { startAdminServer } from '../admin/admin-server.js';"],
  ['src/observability/fixture-layer.ts', "import { DataPlane } from '../data/data-plane.js';"],
  ['src/simulate/fixture-layer.ts', "import { DataPlane } from '../data/data-plane.js';"],
  ['src/control/fixture-layer.ts', "import { DataPlane } from '../data/data-plane.js';"],
  ['src/data/balancing/fixture-layer.ts', "import { RouteTable } from '../routing/route-table.js';"],
];

for (const [path, line] of layerCases) {
  test(`ESLint refuses an import across a layer: ${path.split('/').slice(1, -1).join('/')}`, async () => {
    const messages = await lintAs(path, `${line}\nexport const x = typeof ${line.split(' ')[2]};\n`);
    assert.ok(messages.length > 0, `${line} in ${path} passed the layer rules`);
  });
}

const allowedCases: ReadonlyArray<readonly [string, string]> = [
  ['src/core/fixture-layer.ts', "import { proxyErrors } from './errors.js';"],
  ['src/core/fixture-layer.ts', "import type { ListenerConfig } from '../config/schema.js';"],
  ['src/simulate/fixture-layer.ts', "import { RoundRobin } from '../data/balancing/round-robin.js';"],
  ['src/cluster/fixture-layer.ts', "import { DataPlane } from '../data/data-plane.js';"],
];

for (const [path, line] of allowedCases) {
  test(`ESLint lets an import within the layer rules through: ${line}`, async () => {
    const name = line.split(' ')[line.includes('import type') ? 3 : 2];
    assert.deepEqual(await lintAs(path, `${line}\nexport type X = typeof ${name};\n`), []);
  });
}
