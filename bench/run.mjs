#!/usr/bin/env node
// bench/run.mjs: "direct" vs "through Switchyard" on this machine (`npm run bench`).
//
// It builds dist/ when it is missing or older than src/, makes sure wrk is there (apt-get, else autocannon from
// node_modules), starts two tiny node:http upstreams and Switchyard in front of them as child processes on free
// 127.0.0.1 ports, runs a warm-up and then interleaved rounds of the load generator against each target, and prints
// a markdown table of medians: RPS, p50/p99 latency, ratio to direct, and the proxy's CPU µs per request (utime+stime
// of the Switchyard process from /proc/<pid>/stat, divided by the requests completed). Every child it starts is
// stopped on exit, on an error and on SIGINT/SIGTERM. Progress goes to stderr, the table to stdout.
//
// Env vars: DURATION (s per run, 5), ROUNDS (5), WARMUP (s per target, 2), CONNS (50), THREADS (1), PAUSE (s, 0.3),
// LOADGEN (auto | wrk | autocannon), NOISE_MAX (cores, 0.25), RETRIES (repeats of a noisy run, 1), RETRY_BUDGET
// (s of repeats per bench, 30), RESULTS_OUT (also write the report to this file), SKIP_BUILD=1, NO_INSTALL=1.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const E = process.env;
const num = (name, fallback) => {
  const v = E[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};

const C = {
  duration: num('DURATION', 5),
  rounds: Math.max(1, Math.round(num('ROUNDS', 5))),
  warmup: num('WARMUP', 2),
  conns: Math.max(1, Math.round(num('CONNS', 50))),
  threads: Math.max(1, Math.round(num('THREADS', 1))),
  pause: num('PAUSE', 0.3),
  noiseMax: num('NOISE_MAX', 0.25),
  retries: Math.round(num('RETRIES', 1)),
  retryBudget: num('RETRY_BUDGET', 30),
  loadgen: E.LOADGEN || 'auto',
};
const LOOP = '127.0.0.1';
const log = (...a) => console.error(...a);

// ------------------------------------------------------------------------------------------------ child processes
/** @type {{ name: string, pid: number, child: import('node:child_process').ChildProcess, exited: boolean, exit: string | number | null }[]} */
const procs = [];
let stopping = false;

function track(name, child) {
  const p = { name, pid: child.pid ?? -1, child, exited: false, exit: null };
  child.on('exit', (code, signal) => {
    p.exited = true;
    p.exit = signal ?? code;
  });
  child.on('error', (err) => {
    p.exited = true;
    p.exit = err.message;
  });
  procs.push(p);
  return p;
}

/** Spawns a child in its own process group (detached), so it and anything it starts can be stopped by our pid. */
function start(name, file, args, opts = {}) {
  if (stopping) throw new Error('stopping');
  const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return track(name, child);
}

function alive(p) {
  if (p.exited) return false;
  try {
    process.kill(-p.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to each of our process groups, up to `graceMs` to go, then SIGKILL. Returns how each one ended. */
async function stopAll(graceMs = 8000) {
  const ended = [];
  while (procs.length > 0) {
    const list = procs.splice(0);
    const signal = (p, s) => {
      try {
        process.kill(-p.pid, s);
      } catch {
        // already gone
      }
    };
    for (const p of list) if (alive(p)) signal(p, 'SIGTERM');
    const end = Date.now() + graceMs;
    while (Date.now() < end && list.some(alive)) await sleep(50);
    for (const p of list) {
      if (alive(p)) {
        log(`  ${p.name} (pid ${p.pid}) still running ${graceMs} ms after SIGTERM: SIGKILL`);
        signal(p, 'SIGKILL');
        ended.push({ name: p.name, exit: 'SIGKILL (ignored SIGTERM)' });
      } else ended.push({ name: p.name, exit: p.exit });
    }
    for (let i = 0; i < 40 && list.some(alive); i++) await sleep(50);
  }
  return ended;
}

function killAllSync() {
  for (const p of procs) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`\n${sig}: stopping the children`);
    void stopAll(3000).finally(() => process.exit(130));
  });
}

/** Runs a command to completion with its output on our stderr (so stdout stays the report). */
function runToStderr(file, args, opts = {}) {
  const r = spawnSync(file, args, { stdio: ['ignore', 2, 2], ...opts });
  return r.error ? -1 : (r.status ?? -1);
}

// ------------------------------------------------------------------------------------------------ build
function newestMtime(dir, filter) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full, filter));
    else if (filter(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const entry = path.join(ROOT, 'dist', 'cli', 'main.js');
  let reason = null;
  if (!fs.existsSync(entry)) reason = 'dist/ is missing';
  else {
    const built = fs.statSync(entry).mtimeMs;
    const src = newestMtime(path.join(ROOT, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'));
    const cfg = fs.statSync(path.join(ROOT, 'tsconfig.build.json')).mtimeMs;
    if (Math.max(src, cfg) > built) reason = 'dist/ is older than src/';
  }
  if (E.SKIP_BUILD === '1') {
    if (reason) log(`warning: ${reason}, but SKIP_BUILD=1`);
    return;
  }
  if (!reason) return log('dist/ is up to date');
  log(`${reason}: npm run build`);
  // --noEmitOnError: a failed build leaves the last good dist/ in place instead of half-compiled files.
  if (runToStderr('npm', ['run', 'build', '--', '--noEmitOnError'], { cwd: ROOT }) !== 0)
    throw new Error('npm run build failed (SKIP_BUILD=1 benches dist/ as it is)');
}

// ------------------------------------------------------------------------------------------------ load generator
function hasWrk() {
  const r = spawnSync('wrk', ['-v'], { stdio: 'ignore' });
  return !r.error;
}

/** wrk if it is there or apt-get can install it; autocannon (a devDependency) otherwise. */
function pickLoadgen() {
  if (C.loadgen === 'autocannon') return 'autocannon';
  if (hasWrk()) return 'wrk';
  if (C.loadgen === 'wrk' && E.NO_INSTALL === '1') throw new Error('LOADGEN=wrk but wrk is not installed');
  if (E.NO_INSTALL !== '1') {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const [file, pre] = root ? ['apt-get', []] : ['sudo', ['-n', 'apt-get']];
    const env = { ...E, DEBIAN_FRONTEND: 'noninteractive' };
    log('wrk is missing: apt-get update && apt-get install -y wrk');
    const ok =
      runToStderr(file, [...pre, 'update'], { env }) === 0 &&
      runToStderr(file, [...pre, 'install', '-y', '--no-install-recommends', 'wrk'], { env }) === 0;
    if (ok && hasWrk()) return 'wrk';
    log('could not install wrk');
  }
  if (C.loadgen === 'wrk') throw new Error('LOADGEN=wrk but wrk is not available');
  log('falling back to autocannon (node_modules); it costs more CPU than wrk, so the proxy gets less of the machine');
  return 'autocannon';
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };
function parseWrk(out) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const req = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const pct = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: rps ? Number(rps[1]) : NaN,
    requests: req ? Number(req[1]) : NaN,
    p50: pct(50),
    p99: pct(99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    sockErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const AUTOCANNON_CHILD = `
import { createRequire } from 'node:module';
const require = createRequire(process.env.BENCH_ROOT + '/package.json');
const autocannon = require('autocannon');
const r = await autocannon({
  url: process.env.BENCH_URL,
  connections: Number(process.env.BENCH_CONNS),
  duration: Number(process.env.BENCH_DURATION),
});
process.stdout.write(JSON.stringify({
  rps: r.requests.total / r.duration,
  requests: r.requests.total,
  p50: r.latency.p50,
  p99: r.latency.p99,
  non2xx: r.non2xx,
  sockErrors: r.errors + r.timeouts,
}) + '\\n');
`;

/** One load run; resolves with { rps, requests, p50, p99, non2xx, sockErrors } or { failed }. */
function load(kind, url, seconds) {
  const [file, args, env] =
    kind === 'wrk'
      ? ['wrk', [`-t${C.threads}`, `-c${C.conns}`, `-d${seconds}s`, '--latency', url], E]
      : [
          process.execPath,
          ['--input-type=module', '-e', AUTOCANNON_CHILD],
          { ...E, BENCH_ROOT: ROOT, BENCH_URL: url, BENCH_CONNS: String(C.conns), BENCH_DURATION: String(seconds) },
        ];
  return new Promise((resolve) => {
    const p = start(kind, file, args, { env });
    let out = '';
    let err = '';
    p.child.stdout?.on('data', (d) => (out += d));
    p.child.stderr?.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.child.kill('SIGKILL'), (seconds + 30) * 1000);
    p.child.on('close', (code) => {
      clearTimeout(timer);
      if (procs.includes(p)) procs.splice(procs.indexOf(p), 1);
      let r;
      try {
        r = kind === 'wrk' ? parseWrk(out) : JSON.parse(out);
      } catch {
        r = { rps: NaN };
      }
      if (code !== 0 || !Number.isFinite(r.rps))
        r.failed = `${kind} exit ${code}: ${(err || out).trim().slice(0, 300)}`;
      resolve(r);
    });
  });
}

// ------------------------------------------------------------------------------------------------ /proc accounting
const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime+stime (all threads) of one process, and cutime+cstime (children it has reaped), in ticks. */
function procTicks(pid) {
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

function machineTicks() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - cpu[4] };
}

/** A snapshot of the CPU ticks of the proxy, the upstreams, this script and its reaped children (the loadgen). */
function sample(proxy, upstreams) {
  const self = procTicks(process.pid);
  const t = (p) => (p ? (procTicks(p.pid)?.own ?? NaN) : 0);
  return {
    at: process.hrtime.bigint(),
    proxy: t(proxy),
    upstreams: upstreams.reduce((a, p) => a + t(p), 0),
    self: self ? self.own + self.children : NaN,
    machine: machineTicks().busy,
  };
}

// ------------------------------------------------------------------------------------------------ upstreams and proxy
const UPSTREAM_CHILD = `
import http from 'node:http';
const body = Buffer.from('hello\\n');
const name = process.env.UPSTREAM_NAME;
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-upstream': name });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 200).unref();
});
`;

function firstLine(p, ms) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${p.name}: no output within ${ms} ms`)), ms);
    p.child.stdout?.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, i));
      }
    });
    p.child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${p.name} exited (${sig ?? code}) before it was ready`));
    });
  });
}

async function startUpstream(name) {
  const p = start(name, process.execPath, ['--input-type=module', '-e', UPSTREAM_CHILD], {
    env: { ...E, UPSTREAM_NAME: name },
  });
  p.child.stderr?.on('data', (d) => log(`[${name} stderr] ${String(d).trimEnd()}`));
  const { port } = JSON.parse(await firstLine(p, 10_000));
  p.port = port;
  return p;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, LOOP, () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: LOOP });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Switchyard's stdout/stderr lines, kept for the report (it should say nothing at --log-level warn). */
const proxyOutput = [];
function collectLines(p, stream, tag) {
  let buf = '';
  stream?.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      proxyOutput.push(`[${tag}] ${buf.slice(0, i)}`);
      buf = buf.slice(i + 1);
    }
  });
  stream?.on('end', () => {
    if (buf) proxyOutput.push(`[${tag}] ${buf}`);
  });
}

function startHelp() {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '--help'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

async function startSwitchyard(upstreams) {
  const port = await freePort();
  const args = [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '--listen', `${LOOP}:${port}`];
  for (const u of upstreams) args.push('--to', `http://${LOOP}:${u.port}`);
  args.push('--log-level', 'warn');
  // Versions with an admin API listen on 127.0.0.1:9901 by default: turn it off, so the bench needs no fixed port.
  if (startHelp().includes('--admin')) args.push('--admin', 'off');
  const p = start('switchyard', process.execPath, args, { cwd: ROOT });
  collectLines(p, p.child.stdout, 'stdout');
  collectLines(p, p.child.stderr, 'stderr');
  const end = Date.now() + 30_000;
  while (!(await portOpen(port))) {
    if (p.exited) throw new Error(`switchyard exited (${p.exit}) before it listened:\n${proxyOutput.join('\n')}`);
    if (Date.now() > end) throw new Error('switchyard did not listen within 30 s');
    await sleep(100);
  }
  p.port = port;
  p.args = args.slice(1);
  return p;
}

/** A few sequential keep-alive GETs: status 200, body "hello\n", and which upstreams answered. */
async function preflight(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const seen = new Set();
  try {
    for (let i = 0; i < n; i++) {
      const { status, body, upstream } = await new Promise((resolve, reject) => {
        const req = http.get({ host: LOOP, port, path: '/', agent, timeout: 3000 }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve({ status: res.statusCode, body: b, upstream: res.headers['x-upstream'] }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
      if (status !== 200 || body !== 'hello\n')
        throw new Error(`port ${port}: status ${status}, body ${JSON.stringify(body)}`);
      seen.add(String(upstream ?? '?'));
    }
  } finally {
    agent.destroy();
  }
  return [...seen].sort();
}

// ------------------------------------------------------------------------------------------------ measuring
function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtMs = (x) => (!Number.isFinite(x) ? 'n/a' : x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1));

async function measure(kind, target, seconds, proxy, upstreams) {
  const before = sample(proxy, upstreams);
  const r = await load(kind, target.url, seconds);
  const after = sample(proxy, upstreams);
  const wall = Number(after.at - before.at) / 1e9;
  const d = (k) => (after[k] - before[k]) / CLK_TCK;
  const proxyCpu = target.proxied ? d('proxy') : NaN;
  const ours = (target.proxied ? d('proxy') : 0) + d('upstreams') + d('self');
  return {
    ...r,
    proxyUsPerReq: (proxyCpu * 1e6) / r.requests,
    upstreamUsPerReq: (d('upstreams') * 1e6) / r.requests,
    proxyCores: proxyCpu / wall,
    otherCores: Math.max(0, d('machine') - ours) / wall,
  };
}

async function main() {
  const t0 = Date.now();
  ensureBuilt();
  const kind = pickLoadgen();
  const upstreams = [await startUpstream('a'), await startUpstream('b')];
  const proxy = await startSwitchyard(upstreams);
  log(`upstreams on ${upstreams.map((u) => u.port).join(', ')}; switchyard (pid ${proxy.pid}) on ${proxy.port}`);

  const seenDirect = await preflight(upstreams[0].port, 3);
  const seenProxy = await preflight(proxy.port, 6);
  if (seenProxy.length < 2) throw new Error(`switchyard did not balance: only ${seenProxy.join(',')} answered`);
  log(`preflight: direct -> ${seenDirect.join('+')}, switchyard -> ${seenProxy.join('+')}`);

  const targets = [
    { name: 'direct', url: `http://${LOOP}:${upstreams[0].port}/`, proxied: false, runs: [] },
    { name: 'switchyard', url: `http://${LOOP}:${proxy.port}/`, proxied: true, runs: [] },
  ];
  const desc =
    kind === 'wrk'
      ? `wrk -t${C.threads} -c${C.conns} -d${C.duration}s --latency`
      : `autocannon -c${C.conns} -d${C.duration}`;
  log(`${desc}; warm-up ${C.warmup}s per target, ${C.rounds} interleaved rounds`);

  if (C.warmup > 0) {
    for (const t of targets) {
      const r = await load(kind, t.url, C.warmup);
      if (r.failed) throw new Error(`warm-up of ${t.name} failed: ${r.failed}`);
    }
  }
  let retrySpent = 0;
  for (let round = 0; round < C.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse(); // ABBA, so neither side always goes first
    for (const t of order) {
      await sleep(C.pause * 1000);
      if (proxy.exited) throw new Error(`switchyard exited (${proxy.exit}) during the bench`);
      let r = await measure(kind, t, C.duration, proxy, upstreams);
      // A run with foreign load above NOISE_MAX is repeated (within RETRIES and RETRY_BUDGET); the quieter one is kept.
      for (let i = 0; i < C.retries && r.otherCores > C.noiseMax && retrySpent + C.duration <= C.retryBudget; i++) {
        if (stopping) break;
        log(`    (other cores ${fmt(r.otherCores)} > NOISE_MAX ${C.noiseMax}: repeating ${t.name})`);
        retrySpent += C.duration;
        await sleep(C.pause * 1000);
        const again = await measure(kind, t, C.duration, proxy, upstreams);
        if (!again.failed && (r.failed || again.otherCores < r.otherCores)) r = again;
      }
      if (stopping) return 130;
      t.runs.push(r);
      const errs = (r.non2xx ?? 0) + (r.sockErrors ?? 0);
      log(
        `  round ${round + 1}/${C.rounds} ${t.name.padEnd(10)} ${r.failed ? `FAILED ${r.failed}` : `${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms`}` +
          (t.proxied ? `, ${fmt(r.proxyUsPerReq, 1)} µs/req` : '') +
          `, other cores ${fmt(r.otherCores)}${errs ? `, ${errs} errors` : ''}`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------- report
  const rows = targets.map((t) => {
    const ok = t.runs.filter((r) => !r.failed);
    const m = (k) => median(ok.map((r) => r[k]));
    const rpss = ok.map((r) => r.rps);
    return {
      name: t.name,
      rps: m('rps'),
      spread: rpss.length ? ((Math.max(...rpss) - Math.min(...rpss)) / median(rpss)) * 100 : NaN,
      p50: m('p50'),
      p99: m('p99'),
      proxyUs: m('proxyUsPerReq'),
      upstreamUs: m('upstreamUsPerReq'),
      proxyCores: m('proxyCores'),
      otherCores: m('otherCores'),
      noisy: ok.filter((r) => r.otherCores > C.noiseMax).length,
      quiet: ok.filter((r) => r.otherCores <= C.noiseMax),
      failed: t.runs.length - ok.length,
      errors: ok.reduce((a, r) => a + (r.non2xx ?? 0) + (r.sockErrors ?? 0), 0),
      n: t.runs.length,
    };
  });
  const [direct, sy] = rows;
  const ended = await stopAll();
  const syEnd = ended.find((e) => e.name === 'switchyard');

  const cpus = os.cpus();
  const lines = [
    `## npm run bench — ${new Date().toISOString()}`,
    '',
    `- machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `kernel ${os.release()}; node ${process.version}; load generator, proxy and upstreams share these CPUs`,
    `- load: \`${desc}\` (HTTP/1.1 keep-alive, GET / -> "hello\\n" with content-length), warm-up ${C.warmup}s per ` +
      `target, ${C.rounds} interleaved rounds (ABBA), medians; total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    `- upstreams: two node:http processes; switchyard: \`node bin/switchyard.js ${proxy.args.join(' ')}\` ` +
      `(round-robin), preflight saw ${seenProxy.join('+')}`,
    '',
    '| target | median RPS | × direct | spread % | p50 ms | p99 ms | proxy CPU µs/req | upstream CPU µs/req | proxy cores | other cores | errors |',
    '|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmtInt(r.rps)} | ${fmt(r.rps / direct.rps)} | ${fmt(r.spread, 1)} | ${fmtMs(r.p50)} | ` +
        `${fmtMs(r.p99)} | ${r.name === 'direct' ? 'n/a' : fmt(r.proxyUs, 1)} | ${fmt(r.upstreamUs, 1)} | ` +
        `${r.name === 'direct' ? 'n/a' : fmt(r.proxyCores)} | ${fmt(r.otherCores)}${r.noisy ? ` (${r.noisy}/${r.n} noisy)` : ''} | ` +
        `${r.errors}${r.failed ? ` (${r.failed} failed runs)` : ''} |`,
    ),
    '',
    `Switchyard / direct RPS = **${fmt(sy.rps / direct.rps)}**; Switchyard proxy CPU = **${fmt(sy.proxyUs, 1)} µs/req**; ` +
      `p99 ${fmtMs(sy.p99)} ms vs ${fmtMs(direct.p99)} ms direct` +
      (sy.quiet.length
        ? `; over the ${sy.quiet.length} quiet Switchyard run(s) only: ${fmt(median(sy.quiet.map((r) => r.proxyUsPerReq)), 1)} µs/req.`
        : '; no Switchyard run was quiet.'),
    '',
    'proxy CPU µs/req = utime+stime of the Switchyard process (/proc/<pid>/stat) / requests completed. upstream CPU ' +
      'µs/req = both upstreams together. other cores = busy CPU (from /proc/stat) that none of these processes used; ' +
      `a run above NOISE_MAX=${C.noiseMax} is noisy; it was repeated up to RETRIES=${C.retries} time(s) ` +
      `(${retrySpent} s spent of RETRY_BUDGET=${C.retryBudget}), keeping the quieter attempt. On a shared 2-core machine RPS mostly shows CPU ` +
      'sharing; µs/req is the steadier number, though it too rises when other work shares the cores.',
    '',
    `- switchyard stopped with: ${syEnd ? String(syEnd.exit) : 'n/a'}; it printed ${proxyOutput.length} line(s) on stdout/stderr` +
      (proxyOutput.length ? ':' : '.'),
    ...proxyOutput.slice(0, 20).map((l) => `  - \`${l.slice(0, 300)}\``),
  ];
  const report = lines.join('\n') + '\n';
  process.stdout.write('\n' + report);
  if (E.RESULTS_OUT) fs.writeFileSync(E.RESULTS_OUT, report);
  const bad = rows.some((r) => r.failed > 0 || r.errors > 0);
  return bad ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err) => {
    if (stopping) return; // the signal handler stops the children and exits
    log(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    if (proxyOutput.length) log(`switchyard output:\n${proxyOutput.slice(-20).join('\n')}`);
    stopping = true;
    await stopAll(3000);
    process.exitCode = 1;
  },
);
