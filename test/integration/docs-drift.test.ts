import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { formatProblem, parseConfigText } from '../../src/config/load-file.js';
import { plannedKeys } from '../../src/config/planned.js';

/**
 * The docs say what the code does. Every ```yaml block of README.md and docs/ is Switchyard configuration and must
 * validate, unless its info string says otherwise:
 *
 * - ` ```yaml ` — a configuration, or top-level blocks of one (`routes:` alone, `services:` alone …): what it leaves out
 *   is completed with stubs (a listener, the services and listeners it names), never its own keys;
 * - ` ```yaml at=services.api ` (or `at=routes`) — a fragment that lives at that place: `balancing:` of a service, a
 *   list of routes;
 * - ` ```yaml not-config ` — not Switchyard's (a Prometheus file …).
 *
 * And what the docs call planned is what the schema refuses: the "Not yet available" list of docs/configuration.md
 * is exactly `plannedKeys`, each one is refused, and no other page calls anything planned without pointing there.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.md'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name))),
].sort();

interface Block {
  readonly where: string;
  readonly info: string;
  readonly text: string;
}

function yamlBlocks(page: string): Block[] {
  const text = readFileSync(join(root, page), 'utf8');
  const blocks: Block[] = [];
  for (const match of text.matchAll(/^```ya?ml([^\n]*)\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, match.index).split('\n').length;
    blocks.push({ where: `${page}:${line}`, info: (match[1] ?? '').trim(), text: match[2] ?? '' });
  }
  return blocks;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : []);
const names = (value: unknown): string[] => list(value).filter((v): v is string => typeof v === 'string');

/** Places a fragment at its `at=` path, then adds what a whole file needs and the fragment does not define. */
function complete(fragment: unknown, at: string | undefined): Json {
  let config: unknown = fragment;
  for (const key of (at ?? '').split('.').filter(Boolean).reverse()) config = { [key]: config };
  assert.ok(isObject(config), 'a block is a map of keys (or a list placed with at=)');
  const listeners = list(config['listeners']).filter(isObject);
  const routes = list(config['routes']).filter(isObject);
  const services = isObject(config['services']) ? config['services'] : {};
  const listenerNames = new Set(listeners.map((l) => l['name']));
  for (const name of routes.flatMap((r) => names(r['listeners']))) {
    if (listenerNames.has(name)) continue;
    listenerNames.add(name);
    listeners.push({ name, protocol: 'http', address: '127.0.0.1:0' });
  }
  if (listeners.length === 0) listeners.push({ name: 'web', protocol: 'http', address: '127.0.0.1:0' });
  const wanted = [
    ...listeners.map((l) => l['service']),
    ...listeners.flatMap((l) =>
      list(l['routes'])
        .filter(isObject)
        .map((r) => r['service']),
    ),
    ...routes.map((r) => r['service']),
  ].filter((s): s is string => typeof s === 'string');
  for (const name of wanted) if (!Object.hasOwn(services, name)) services[name] = {};
  return { ...config, listeners, services };
}

/** `${VAR}` without a default stands for a value the reader supplies: a placeholder long enough for any secret. */
const withPlaceholders = (text: string): string =>
  text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, 'placeholder-value-of-$1');

for (const page of pages) {
  const blocks = yamlBlocks(page);
  if (blocks.length === 0) continue;
  test(`every YAML block of ${page} is valid configuration`, () => {
    const failures: string[] = [];
    for (const block of blocks) {
      if (block.info.split(/\s+/).includes('not-config')) continue;
      const at = /(?:^|\s)at=(\S+)/.exec(block.info)?.[1];
      const config = complete(parse(withPlaceholders(block.text)) as unknown, at);
      const loaded = parseConfigText(stringify(config), block.where, {});
      if (!loaded.ok) failures.push(`${block.where}:\n${block.text}${loaded.problems.map(formatProblem).join('\n')}`);
    }
    assert.deepEqual(failures, []);
  });
}

/** The bullets of the "Not yet available" section: each starts with a backquoted `path: value`. */
function notYetAvailable(): { path: string; value: unknown }[] {
  const text = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
  const section = /^## Not yet available\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text)?.[1];
  assert.ok(section !== undefined, 'docs/configuration.md has a "Not yet available" section');
  return [...section.matchAll(/^- `([^`:]+): ([^`]+)`/gm)].map((m) => ({
    path: m[1] ?? '',
    value: parse(m[2] ?? '') as unknown,
  }));
}

test('the keys the docs call "not yet available" are exactly the planned keys the schema refuses', () => {
  const documented = notYetAvailable();
  assert.deepEqual(documented.map((d) => d.path).sort(), plannedKeys.map((k) => k.path).sort());
  for (const { path, value } of documented) {
    const config: Json = { listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }] };
    let at: Json = config;
    const parts = path.split('.').map((part) => (part === '*' ? 'any' : part));
    parts.slice(0, -1).forEach((part) => {
      const next: Json = isObject(at[part]) ? at[part] : {};
      at[part] = next;
      at = next;
    });
    at[parts.at(-1) ?? ''] = value;
    const loaded = parseConfigText(stringify(config), 'planned.yaml', {});
    assert.ok(!loaded.ok, `${path} is documented as not yet available, but the schema takes it`);
    const problem = loaded.problems.find((p) => p.path === parts.join('.'));
    assert.ok(problem !== undefined, `no problem at ${path}: ${loaded.problems.map(formatProblem).join('; ')}`);
    assert.match(problem.message, /is not yet available/);
  }
});

test('no page calls anything planned without naming a key of the list or pointing to it', () => {
  const planned = plannedKeys.map((k) => k.path.split('.').at(-1) ?? '');
  const failures: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8');
    const body = page === 'docs/configuration.md' ? text.replace(/^## Not yet available\n[\s\S]*/m, '') : text;
    // Paragraphs (table rows count one each), outside code blocks.
    const prose = body.replace(/^```[\s\S]*?^```/gm, '');
    for (const paragraph of prose.split(/\n\s*\n|\n(?=\|)/)) {
      if (!/\bplanned\b|not yet available|not there yet|not supported yet/i.test(paragraph)) continue;
      const points = paragraph.includes('#not-yet-available');
      const names = planned.some((key) => paragraph.includes(`\`${key}`));
      if (!points && !names) failures.push(`${page}: ${paragraph.trim().slice(0, 160)}`);
    }
  }
  assert.deepEqual(failures, []);
});
