import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { send } from './helpers/http.js';
import { freePort } from './helpers/ports.js';
import { cliPath } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

test('switchyard demo --fleet runs three nodes on a local etcd; every node routes to every instance', async (t) => {
  const [web, admin] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cliPath, 'demo', '--fleet', '--listen', `127.0.0.1:${web}`, '--admin', `127.0.0.1:${admin}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let up = false;
  // A demo that exits (a port taken, etcd missing) fails the test at once, with what it printed.
  await Promise.race([
    waitFor(() => stdout.includes('Ctrl-C stops everything'), 60_000, 'the demo up', 100).catch((error: Error) => {
      throw new Error(`${error.message}\n${stdout}`);
    }),
    exited.then((code) => {
      if (!up) throw new Error(`the demo exited with ${code} before it was up:\n${stdout}`);
    }),
  ]);
  up = true;
  assert.match(stdout, /3 nodes sharing one registry on a local etcd/);
  for (const port of [web, web + 1, web + 2]) {
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const reply = await send(`http://127.0.0.1:${port}/`);
        if (reply.status === 200) seen.add(String(reply.headers['x-instance']));
        return seen.size === 3;
      },
      15_000,
      `node on ${port} reaching all three instances`,
      20,
    );
  }
  child.kill('SIGINT');
  assert.equal(await exited, 0, stdout);
});
