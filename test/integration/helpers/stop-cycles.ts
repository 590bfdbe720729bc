import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startOrigin } from './origin.js';

/**
 * Start/stop cycles of real processes of the installed entry point (bin/switchyard.js, the build in dist/), for the
 * stop-cycles tests: each process gets a client keep-alive connection and an upstream connection, open when SIGTERM
 * comes, and must log `stopped` and exit 0 soon after. A process still alive 10 s after `stopped` is the benchmark's
 * hang (spinning in Node's exit teardown): its CPU time is recorded and it is killed.
 */
export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const bin = join(root, 'bin', 'switchyard.js');
/** Processes started at once. */
const batch = 8;

/** The newest modification time of the sources the build compiles (src/, not tests). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** dist/ as `npm ci` builds it (prepare); rebuilt here when a source is newer, so the test never runs stale code. */
export function ensureBuild(): void {
  const built = join(root, 'dist', 'cli', 'main.js');
  let fresh: boolean;
  try {
    fresh = statSync(built).mtimeMs >= newestSource(join(root, 'src'));
  } catch {
    fresh = false;
  }
  if (fresh) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, `the build failed:\n${result.stdout}${result.stderr}`);
}

export interface Cycle {
  readonly code: number | string;
  readonly logged: readonly string[];
  /** Milliseconds from the `stopped` line to the exit (undefined without one). */
  readonly exitAfterStoppedMs?: number;
  /** Set when the process outlived its bound: its CPU time (user + system, clock ticks) when it was killed. */
  readonly hungCpuTicks?: number;
}

function cpuTicks(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** One start/stop: start, one proxied request on a keep-alive connection left open, SIGTERM, wait for the exit. */
function cycle(originUrl: string): Promise<Cycle> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [bin, 'start', '--listen', '127.0.0.1:0', '--to', originUrl, '--admin', 'off'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const logged: string[] = [];
    let port: number | undefined;
    let stoppedAt: number | undefined;
    let hungCpuTicks: number | undefined;
    let bound: NodeJS.Timeout | undefined;
    const agent = new Agent({ keepAlive: true });
    const startBound = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.on('data', (chunk: Buffer) => logged.push(chunk.toString().trim()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: { msg?: string; port?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg === undefined) return;
      logged.push(entry.msg);
      if (entry.msg === 'listening') port = entry.port;
      if (entry.msg === 'started' && port !== undefined) {
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          // The connection stays open (keep-alive, and the balancer's pool to the origin) when the stop comes.
          res.on('end', () => child.kill('SIGTERM'));
        });
        req.on('error', () => child.kill('SIGTERM'));
        req.end();
      }
      if (entry.msg === 'stopped') {
        stoppedAt = Date.now();
        bound = setTimeout(() => {
          hungCpuTicks = cpuTicks(child.pid ?? 0);
          child.kill('SIGKILL');
        }, 10_000);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(startBound);
      clearTimeout(bound);
      agent.destroy();
      resolve({
        code: code ?? signal ?? -1,
        logged,
        ...(stoppedAt === undefined ? {} : { exitAfterStoppedMs: Date.now() - stoppedAt }),
        ...(hungCpuTicks === undefined ? {} : { hungCpuTicks }),
      });
    });
  });
}

/**
 * Runs `cycles` start/stop cycles in batches, against one origin, and checks them: every stop drained, logged
 * `stopped` and exited 0, and every cycle proxied its request. STOP_CYCLES=N runs N instead (while working on it).
 */
export async function checkStopCycles(cycles: number): Promise<void> {
  const count = Number(process.env['STOP_CYCLES'] ?? cycles);
  ensureBuild();
  const origin = await startOrigin('origin');
  try {
    const results: Cycle[] = [];
    for (let done = 0; done < count; done += batch) {
      const size = Math.min(batch, count - done);
      results.push(...(await Promise.all(Array.from({ length: size }, () => cycle(origin.url)))));
    }
    const bad = results.filter((r) => r.code !== 0 || r.exitAfterStoppedMs === undefined);
    assert.deepEqual(
      bad.map((r) => ({ code: r.code, hungCpuTicks: r.hungCpuTicks, logged: r.logged })),
      [],
      `${bad.length} of ${count} stops went wrong`,
    );
    // Both lines, in either order: the process log is written to stdout asynchronously (pino's default), so on a busy
    // machine the "stopped" line can reach the pipe before "draining" (their `time` fields are in order).
    for (const r of results) assert.ok(r.logged.includes('draining'), `drained: ${r.logged.join(' | ')}`);
    assert.ok(origin.requests.length >= count, 'every cycle proxied its request');
  } finally {
    await origin.close();
  }
}
