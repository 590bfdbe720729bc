import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseListenAddress } from '../../src/config/address.js';
import { formatProblem, loadConfigFile } from '../../src/config/load-file.js';
import { algorithms, type SwitchyardConfig } from '../../src/config/schema.js';
import { createTestCa } from './helpers/certs.js';
import { cliPath } from './helpers/switchyard.js';

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

/** The demo's addresses (`switchyard demo` with its defaults): no example may take them. */
const demoPorts = ['tcp/8080', 'tcp/9901'];

/** Every socket address an example opens: its listeners (`tcp/` or `udp/` and the port) and its admin API. */
function socketsOf(config: SwitchyardConfig): { key: string; address: string }[] {
  const sockets = config.listeners.map((l) => ({
    key: `${l.protocol === 'udp' ? 'udp' : 'tcp'}/${parseListenAddress(l.address)?.port}`,
    address: l.address,
  }));
  if (config.admin.enabled)
    sockets.push({ key: `tcp/${parseListenAddress(config.admin.address)?.port}`, address: config.admin.address });
  return sockets;
}

test('no example takes a port that another example or the demo uses', async () => {
  const owners = new Map<string, string>(demoPorts.map((key) => [key, 'switchyard demo']));
  const clashes: string[] = [];
  for (const file of examples) {
    const loaded = await loadConfigFile(fileURLToPath(new URL(file, examplesDir)), {});
    assert.ok(loaded.ok, file);
    for (const { key, address } of socketsOf(loaded.config)) {
      const owner = owners.get(key);
      if (owner !== undefined) clashes.push(`examples/${file} ${address} (${key}) is also ${owner}'s`);
      owners.set(key, `examples/${file}`);
    }
  }
  assert.deepEqual(clashes, []);
});

test('examples/algorithms.yaml shows all eight algorithms', async () => {
  const loaded = await loadConfigFile(fileURLToPath(new URL('algorithms.yaml', examplesDir)), {});
  assert.ok(loaded.ok);
  const shown = new Set(Object.values(loaded.config.services).map((s) => s.algorithm));
  assert.deepEqual([...shown].sort(), [...algorithms].sort());
});

/**
 * The environment that moves every address of an example onto a free loopback port: each `${VAR:-default}` whose
 * default is an address becomes 127.0.0.1:0, a host becomes 127.0.0.1 and a port 0; the registry file is `<base>.registry.json`.
 */
function freePortsEnv(text: string, base: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [, name, fallback] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}/g)) {
    if (name === undefined || fallback === undefined) continue;
    if (name === 'SWITCHYARD_REGISTRY') env[name] = `${base}.registry.json`;
    else if (/^(\[[0-9a-fA-F:.]*\]|[\w.-]*):\d+$/.test(fallback)) env[name] = '127.0.0.1:0';
    else if (/^(\d{1,3}\.){3}\d{1,3}$|^::$/.test(fallback)) env[name] = '127.0.0.1';
    else if (/^(PORT|.*_LISTEN_PORT)$/.test(name) && /^\d+$/.test(fallback)) env[name] = '0';
  }
  return env;
}

/** Starts one example as a real process; resolves once it logged `started` (stop signals then drain). */
function startExample(file: string, cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn(
    process.execPath,
    // tsx by its own URL: the working directory is a temporary one, where no node_modules is found.
    ['--import', import.meta.resolve('tsx'), cliPath, 'start', '-c', fileURLToPath(new URL(file, examplesDir))],
    {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`examples/${file} did not start within 60 s:\n${output}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (line.includes('"msg":"started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`examples/${file} exited with ${code}:\n${output}`));
    });
  });
  started.catch(() => undefined); // awaited later, with the others: not an unhandled rejection meanwhile
  return { child, started, exited, output: () => output };
}

test('every example starts at the same time as all the others, each on free ports set through its variables', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-examples-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // examples/gateway.yaml reads its certificates from certs/ under the working directory (examples/certs/README.md).
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  const example = await ca.issue(['www.example.com', 'example.com'], 'example');
  const api = await ca.issue(['api.example.com'], 'api');
  for (const file of [example.certFile, example.keyFile, api.certFile, api.keyFile])
    await copyFile(file, join(certs, file.slice(ca.dir.length + 1)));
  const runs: ({ file: string } & ReturnType<typeof startExample>)[] = [];
  for (const file of examples) {
    // All in one working directory (certs/ is there), each with its own registry file.
    const cwd = dir;
    const env = freePortsEnv(readFileSync(new URL(file, examplesDir), 'utf8'), join(dir, file));
    // Every socket of the example must be on loopback port 0 now: an address without a variable cannot be moved.
    const loaded = await loadConfigFile(fileURLToPath(new URL(file, examplesDir)), env);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
    for (const { address } of socketsOf(loaded.config))
      assert.equal(address, '127.0.0.1:0', `examples/${file}: ${address} cannot be set from the environment`);
    runs.push({ file, ...startExample(file, cwd, env) });
  }
  t.after(() => {
    for (const run of runs) run.child.kill('SIGKILL');
  });
  await Promise.all(runs.map((run) => run.started));
  for (const run of runs) run.child.kill('SIGTERM');
  for (const run of runs)
    assert.equal(await run.exited, 0, `examples/${run.file} did not stop cleanly:\n${run.output()}`);
});
