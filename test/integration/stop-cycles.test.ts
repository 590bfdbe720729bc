import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { forcedExitAfterMs } from '../../src/cli/run-until-stopped.js';
import { bin, checkStopCycles, ensureBuild, root } from './helpers/stop-cycles.js';

/**
 * A stop never spins: 200 start/stop cycles of real processes, in four files of 50 (this one and
 * stop-cycles-2/3/4.test.ts) so that each stays well within the runner's per-file timeout on a loaded machine.
 * About 1 stop in 60 spun at 100 % CPU in the benchmark; each of these must exit at once after its drain.
 */
test('50 start/stop cycles of real processes (1 of 4): every stop drains, logs "stopped" and exits 0 at once', () =>
  checkStopCycles(50));

test('the demo says what it does when it stops, then exits 0', async () => {
  ensureBuild();
  const child = spawn(process.execPath, [bin, 'demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ctrl-C stops everything')) resolve();
    });
    child.on('exit', () => resolve());
  });
  // The demo's event loop answers a request only after the code that printed that text has installed its signal
  // handlers: then SIGINT is a stop, not the default end of the process.
  const port = Number(/a balancer on http:\/\/localhost:(\d+)/.exec(out)?.[1]);
  const answered = await fetch(`http://127.0.0.1:${port}/`);
  await answered.arrayBuffer();
  child.kill('SIGINT');
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, out);
  assert.match(
    out,
    /Stopping: 3 instances deregister and stop, then the balancer drains \(in-flight requests finish, 30 s at most\) and exits\./,
  );
});

test('a process whose code hangs after the stop still exits, with the exit code of the stop, soon after the drain', async () => {
  const fixture = fileURLToPath(new URL('fixtures/hung-after-stop.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve()),
  );
  const stoppedAt = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  clearTimeout(killer);
  assert.equal(code, 0, 'exit 0 (a clean stop), not killed after 60 s');
  const afterMs = Date.now() - stoppedAt;
  assert.ok(afterMs >= forcedExitAfterMs - 100, `it waited for its caller first (${afterMs} ms)`);
});
