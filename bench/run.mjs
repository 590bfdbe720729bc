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
// L4 (on unless L4=0): a second Switchyard process, started from a config file (bench/l4-config.mjs) with two `tcp`
// listeners, is measured against direct in interleaved rounds of its own: (a) bulk throughput, one iperf3 TCP stream
// (installed with apt-get when missing; else a Node source/sink pair, BULK_TOOL=node) through a listener with one
// upstream, reported as Gbit/s and the proxy's CPU seconds per GB moved; (b) small requests, wrk GET / through a
// listener that balances round-robin per connection over the two node:http upstreams, with CPU µs per request.
//
// Env vars: DURATION (s per run, 5), ROUNDS (5), WARMUP (s per target, 2), CONNS (50), THREADS (1), PAUSE (s, 0.3),
// LOADGEN (auto | wrk | autocannon), NOISE_MAX (cores, 0.25), RETRIES (repeats of a noisy run, 1), RETRY_BUDGET
// (s of repeats per bench, 30), RESULTS_OUT (also write the report to this file), SKIP_BUILD=1, NO_INSTALL=1,
// L7=0 (skip the L7 part), L4=0 (skip the L4 part), L4_DURATION (s per L4 run, DURATION), L4_RPS=0 (skip the L4
// small-request test), BULK_TOOL (auto | iperf3 | node: auto = iperf3, installed if missing, else node).
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
  l7: E.L7 !== '0',
  workers: E.WORKERS !== '0', // L7 also through `workers: auto` (node:cluster), beside the single process
  realistic: E.REALISTIC !== '0', // L7 also through the realistic config of issue 11 (bench/realistic-config.mjs)
  l4: E.L4 !== '0',
  l4Rps: E.L4_RPS !== '0',
  l4Duration: num('L4_DURATION', num('DURATION', 5)),
  bulkTool: E.BULK_TOOL || 'auto',
};
if (!['auto', 'iperf3', 'node'].includes(C.bulkTool)) throw new Error(`BULK_TOOL must be auto, iperf3 or node`);
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
function has(bin, args) {
  const r = spawnSync(bin, args, { stdio: 'ignore' });
  return !r.error;
}
const hasWrk = () => has('wrk', ['-v']);
const hasIperf3 = () => has('iperf3', ['--version']);

let aptUpdated = false;
/** apt-get install (as root, else through `sudo -n`); true when it worked. Runs apt-get update once per bench. */
function aptInstall(pkg, debconf) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const [file, pre] = root ? ['apt-get', []] : ['sudo', ['-n', 'apt-get']];
  const env = { ...E, DEBIAN_FRONTEND: 'noninteractive' };
  if (debconf) {
    const [dfile, dpre] = root ? ['debconf-set-selections', []] : ['sudo', ['-n', 'debconf-set-selections']];
    spawnSync(dfile, dpre, { input: debconf, stdio: ['pipe', 'ignore', 'ignore'] });
  }
  log(`${pkg} is missing: ${aptUpdated ? '' : 'apt-get update && '}apt-get install -y ${pkg}`);
  if (!aptUpdated) {
    if (runToStderr(file, [...pre, 'update'], { env }) !== 0) return false;
    aptUpdated = true;
  }
  return runToStderr(file, [...pre, 'install', '-y', '--no-install-recommends', pkg], { env }) === 0;
}

/** wrk if it is there or apt-get can install it; autocannon (a devDependency) otherwise. */
function pickLoadgen() {
  if (C.loadgen === 'autocannon') return 'autocannon';
  if (hasWrk()) return 'wrk';
  if (C.loadgen === 'wrk' && E.NO_INSTALL === '1') throw new Error('LOADGEN=wrk but wrk is not installed');
  if (E.NO_INSTALL !== '1') {
    if (aptInstall('wrk') && hasWrk()) return 'wrk';
    log('could not install wrk');
  }
  if (C.loadgen === 'wrk') throw new Error('LOADGEN=wrk but wrk is not available');
  log('falling back to autocannon (node_modules); it costs more CPU than wrk, so the proxy gets less of the machine');
  return 'autocannon';
}

/** iperf3 if it is there or apt-get can install it (its daemon kept off); a Node source/sink pair otherwise. */
function pickBulkTool() {
  if (C.bulkTool === 'node') return 'node';
  if (hasIperf3()) return 'iperf3';
  if (E.NO_INSTALL !== '1') {
    // The package asks whether to start a system-wide iperf3 daemon: no.
    if (aptInstall('iperf3', 'iperf3 iperf3/start_daemon boolean false\n') && hasIperf3()) return 'iperf3';
    log('could not install iperf3');
  }
  if (C.bulkTool === 'iperf3') throw new Error('BULK_TOOL=iperf3 but iperf3 is not available');
  log('bulk test: falling back to a Node source/sink pair (iperf3 is missing)');
  return 'node';
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

/** Runs a short-lived child to completion (tracked, so it is stopped on a signal); resolves { code, out, err }. */
function runChild(name, file, args, env, timeoutS) {
  return new Promise((resolve) => {
    const p = start(name, file, args, { env });
    let out = '';
    let err = '';
    p.child.stdout?.on('data', (d) => (out += d));
    p.child.stderr?.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutS * 1000);
    p.child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (procs.includes(p)) procs.splice(procs.indexOf(p), 1);
      resolve({ code: code ?? signal, out, err });
    });
  });
}

// ------------------------------------------------------------------------------------------------ L4 bulk tools
// The Node fallback for iperf3: a sink server that reads and drops everything, and a source that writes 256 KiB
// buffers as fast as the connection takes them for BENCH_SECONDS, ends, and reports the bytes the sink had read
// (socket closed after the sink's FIN) over the time from connect to close.
const SINK_CHILD = `
import net from 'node:net';
const server = net.createServer((s) => { s.on('error', () => {}); s.resume(); });
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;
const SOURCE_CHILD = `
import net from 'node:net';
const [host, port] = process.env.BENCH_ADDR.split(':');
const seconds = Number(process.env.BENCH_SECONDS);
const buf = Buffer.alloc(256 * 1024, 120);
const sock = net.connect({ host, port: Number(port), noDelay: true });
let t0, end;
sock.on('connect', () => { t0 = process.hrtime.bigint(); end = Date.now() + seconds * 1000; pump(); });
function pump() {
  while (Date.now() < end) if (!sock.write(buf)) return void sock.once('drain', pump);
  sock.end();
}
sock.resume();
sock.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
sock.on('close', () => {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ bytes: sock.bytesWritten, seconds: s }) + '\\n');
});
`;

/** Starts the bulk server (iperf3 -s, or the Node sink) on a free port; resolves the tracked process with .port. */
async function startBulkServer(tool) {
  if (tool === 'iperf3') {
    const port = await freePort();
    // --idle-timeout: an iperf3 server left stuck by an aborted test resets itself instead of answering "busy".
    const p = start('iperf3-server', 'iperf3', [
      '-s',
      '-B',
      LOOP,
      '-p',
      String(port),
      '--idle-timeout',
      '30',
      '--forceflush',
    ]);
    p.child.stderr?.on('data', (d) => log(`[iperf3 -s stderr] ${String(d).trimEnd()}`));
    // Ready when it says so: a probe connection would count as a (failed) test.
    await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('iperf3 -s did not listen within 10 s')), 10_000);
      p.child.stdout?.on('data', (d) => {
        buf += d;
        if (/Server listening/.test(buf)) {
          clearTimeout(timer);
          p.child.stdout?.removeAllListeners('data');
          p.child.stdout?.resume();
          resolve();
        }
      });
      p.child.once('exit', () => reject(new Error(`iperf3 -s exited (${p.exit})`)));
    });
    p.port = port;
    return p;
  }
  const p = start('bulk-sink', process.execPath, ['--input-type=module', '-e', SINK_CHILD]);
  p.child.stderr?.on('data', (d) => log(`[bulk-sink stderr] ${String(d).trimEnd()}`));
  p.port = JSON.parse(await firstLine(p, 10_000)).port;
  return p;
}

/**
 * One bulk run of about `seconds` s to `port` (client -> server direction); resolves { gbps, bytes } or { failed }.
 * iperf3: one TCP stream, `-t seconds-1 -O 1` (the first second, slow start, is left out of the figure), as in
 * ../shared/bench, and one retry when the server still says it is busy with the previous test.
 */
async function bulk(tool, port, seconds) {
  if (tool === 'iperf3') {
    const args = ['-c', LOOP, '-p', String(port), '-t', String(Math.max(1, seconds - 1)), '-O', '1', '-J'];
    args.push('--connect-timeout', '3000');
    for (let attempt = 0; ; attempt++) {
      const { code, out, err } = await runChild('iperf3', 'iperf3', args, E, seconds + 30);
      let j = null;
      try {
        j = JSON.parse(out);
      } catch {
        // not JSON: reported below
      }
      const sum = j?.end?.sum_received;
      if (j && !j.error && sum) return { gbps: sum.bits_per_second / 1e9, bytes: sum.bytes };
      const why = j?.error ?? `exit ${code}: ${(err || out).trim().slice(0, 300)}`;
      if (attempt === 0 && /busy/i.test(why)) {
        await sleep(1500);
        continue;
      }
      return { gbps: NaN, failed: `iperf3: ${why}` };
    }
  }
  const env = { ...E, BENCH_ADDR: `${LOOP}:${port}`, BENCH_SECONDS: String(seconds) };
  const { code, out, err } = await runChild(
    'bulk-source',
    process.execPath,
    ['--input-type=module', '-e', SOURCE_CHILD],
    env,
    seconds + 30,
  );
  try {
    const r = JSON.parse(out);
    if (code === 0 && r.bytes > 0) return { gbps: (r.bytes * 8) / r.seconds / 1e9, bytes: r.bytes };
  } catch {
    // reported below
  }
  return { gbps: NaN, failed: `bulk source exit ${code}: ${(err || out).trim().slice(0, 300)}` };
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
  // f[0] is field 3 (state): minflt is field 10, utime 14, stime 15, cutime 16, cstime 17.
  return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), minflt: Number(f[7]) };
}

function machineTicks() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - cpu[4] };
}

/** A snapshot of the CPU ticks of the proxy, the upstreams, this script and its reaped children (the loadgen). */
/** Own ticks of `pid` and of every live child it has (cluster workers): a process tree's CPU. */
function treeTicks(pid) {
  let total = procTicks(pid)?.own ?? NaN;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[1]) === pid) total += Number(f[11]) + Number(f[12]);
  }
  return total;
}

function sample(proxy, upstreams) {
  const self = procTicks(process.pid);
  const t = (p) => (p ? (p.tree ? treeTicks(p.pid) : (procTicks(p.pid)?.own ?? NaN)) : 0);
  return {
    at: process.hrtime.bigint(),
    proxy: t(proxy),
    proxyFaults: proxy ? (procTicks(proxy.pid)?.minflt ?? NaN) : 0,
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

/** True when a socket listens on 127.0.0.1:`port` (from /proc/net/tcp, without connecting to it). */
function listeningOn(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return fs
      .readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .some((line) => {
        const f = line.trim().split(/\s+/);
        return f[1] === local && f[3] === '0A'; // 0A = LISTEN
      });
  } catch {
    return false;
  }
}

/** Waits until `port` accepts connections, failing early when the process `p` exits. */
async function waitListening(p, port, what) {
  const end = Date.now() + 30_000;
  while (!(await portOpen(port))) {
    if (p.exited) throw new Error(`${what} exited (${p.exit}) before it listened:\n${proxyOutput.join('\n')}`);
    if (Date.now() > end) throw new Error(`${what} did not listen on ${port} within 30 s`);
    await sleep(100);
  }
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
  await waitListening(p, port, 'switchyard');
  p.port = port;
  p.args = args.slice(1);
  return p;
}

/** Switchyard with `workers: auto` from a config file: the primary and one worker per core (CPU = the whole tree). */
async function startSwitchyardWorkers(upstreams) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-workers-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'workers.yaml');
  fs.writeFileSync(
    file,
    [
      'workers: auto',
      'admin: { enabled: false }',
      'registry: { store: memory }',
      `listeners: [ { name: web, protocol: http, address: "${LOOP}:${port}", service: app } ]`,
      `services: { app: { endpoints: [ ${upstreams.map((u) => `{ url: "http://${LOOP}:${u.port}" }`).join(', ')} ] } }`,
      '',
    ].join('\n'),
  );
  const args = [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '-c', file, '--log-level', 'warn'];
  const p = start('switchyard-workers', process.execPath, args, { cwd: ROOT });
  collectLines(p, p.child.stdout, 'workers stdout');
  collectLines(p, p.child.stderr, 'workers stderr');
  await waitListening(p, port, 'switchyard (workers)');
  Object.assign(p, { port, args: args.slice(1), tree: true });
  return p;
}

/**
 * Switchyard with the realistic config (bench/realistic-config.mjs): 8 routes, a health check every second, the
 * access log to a file, the admin listener on; its /metrics is scraped every 5 s while it runs, as Prometheus would.
 */
async function startSwitchyardRealistic(upstreams) {
  const { realisticConfig } = await import('./realistic-config.mjs');
  const port = await freePort();
  const adminPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-realistic-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'realistic.yaml');
  fs.writeFileSync(
    file,
    realisticConfig({
      listen: `${LOOP}:${port}`,
      admin: `${LOOP}:${adminPort}`,
      upstreams: upstreams.map((u) => `${LOOP}:${u.port}`),
      accessLog: path.join(dir, 'access.log'),
    }),
  );
  const args = [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '-c', file, '--log-level', 'warn'];
  const p = start('switchyard-realistic', process.execPath, args, { cwd: ROOT });
  collectLines(p, p.child.stdout, 'realistic stdout');
  collectLines(p, p.child.stderr, 'realistic stderr');
  await waitListening(p, port, 'switchyard (realistic config)');
  const scrape = () =>
    http
      .get(
        {
          host: LOOP,
          port: adminPort,
          path: '/metrics',
          headers: { authorization: 'Bearer bench-admin-token-0123456789abcdef' },
        },
        (res) => res.resume(),
      )
      .on('error', () => undefined);
  const scraper = setInterval(scrape, 5_000);
  scraper.unref();
  Object.assign(p, { port, args: args.slice(1) });
  return p;
}

let l4ConfigDir;
process.on('exit', () => {
  if (l4ConfigDir) fs.rmSync(l4ConfigDir, { recursive: true, force: true });
});

/**
 * Switchyard with two `tcp` listeners from a config file (bench/l4-config.mjs): `bulk` -> the bulk server (one
 * upstream), `small` -> both HTTP upstreams, round-robin per connection. The file goes to a temporary folder.
 */
async function startSwitchyardL4(bulkServer, upstreams) {
  const { l4Config } = await import('./l4-config.mjs');
  const bulkPort = await freePort();
  const smallPort = await freePort();
  const yaml = l4Config({
    bulkListen: `${LOOP}:${bulkPort}`,
    bulkUpstream: `${LOOP}:${bulkServer.port}`,
    httpListen: `${LOOP}:${smallPort}`,
    httpUpstreams: upstreams.map((u) => `${LOOP}:${u.port}`),
  });
  l4ConfigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-l4-'));
  const file = path.join(l4ConfigDir, 'l4.yaml');
  fs.writeFileSync(file, yaml);
  const args = [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '-c', file, '--log-level', 'warn'];
  const p = start('switchyard-l4', process.execPath, args, { cwd: ROOT });
  collectLines(p, p.child.stdout, 'l4 stdout');
  collectLines(p, p.child.stderr, 'l4 stderr');
  // Not a probe connection: Switchyard loses a client FIN that arrives before the endpoint has connected (see
  // RESULTS.md), and a half-open connection left on iperf3 -s blocks every later test for an hour.
  const end = Date.now() + 30_000;
  while (!(listeningOn(bulkPort) && listeningOn(smallPort))) {
    if (p.exited) throw new Error(`switchyard (L4) exited (${p.exit}) before it listened:\n${proxyOutput.join('\n')}`);
    if (Date.now() > end) throw new Error('switchyard (L4) did not listen within 30 s');
    await sleep(100);
  }
  Object.assign(p, { bulkPort, smallPort, args: args.slice(1), yaml });
  return p;
}

/**
 * A few sequential GETs: status 200, body "hello\n", and which upstreams answered. One keep-alive connection for all
 * of them, or (`fresh`, for an L4 listener, which balances per connection) a new connection for each.
 */
async function preflight(port, n, fresh = false) {
  const agent = fresh ? false : new http.Agent({ keepAlive: true, maxSockets: 1 });
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
    if (agent) agent.destroy();
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

/**
 * One measured run: `run()` is the load (wrk/autocannon or a bulk transfer); the CPU of the proxy (when the target
 * is proxied), of the servers behind it, and of this script with its reaped children (the load generator) is read
 * before and after. Adds per-request (requests) or per-GB (bytes, gbps) CPU figures and the foreign load.
 */
async function measure(run, target, proxy, servers) {
  const before = sample(proxy, servers);
  const r = await run();
  const after = sample(proxy, servers);
  const wall = Number(after.at - before.at) / 1e9;
  const d = (k) => (after[k] - before[k]) / CLK_TCK;
  const proxyCpu = target.proxied ? d('proxy') : NaN;
  const ours = (target.proxied ? d('proxy') : 0) + d('upstreams') + d('self');
  return {
    ...r,
    proxyUsPerReq: (proxyCpu * 1e6) / r.requests,
    upstreamUsPerReq: (d('upstreams') * 1e6) / r.requests,
    // CPU-seconds per wall-second over GB per second (GB = 1e9 bytes), the same formula as ../shared/bench.
    proxySPerGB: proxyCpu / wall / (r.gbps / 8),
    // Minor page faults of the proxy per GB moved: fresh memory touched by reads (see RESULTS.md, L4).
    proxyFaultsPerGB: target.proxied ? (after.proxyFaults - before.proxyFaults) / wall / (r.gbps / 8) : NaN,
    proxyCores: proxyCpu / wall,
    serverCores: d('upstreams') / wall,
    otherCores: Math.max(0, d('machine') - ours) / wall,
  };
}

/**
 * `rounds` interleaved rounds over `targets` (ABBA order, so neither side always goes first); a run with foreign
 * load above NOISE_MAX is repeated (within RETRIES and the shared RETRY_BUDGET) and the quieter attempt kept.
 * `once(t)` measures one run; `describe(r)` is its progress line.
 */
const retry = { spent: 0 };
async function runRounds(label, targets, seconds, once, describe) {
  for (let round = 0; round < C.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      await sleep(C.pause * 1000);
      for (const p of t.watch ?? []) if (p.exited) throw new Error(`${p.name} exited (${p.exit}) during the bench`);
      let r = await once(t);
      for (let i = 0; i < C.retries && r.otherCores > C.noiseMax && retry.spent + seconds <= C.retryBudget; i++) {
        if (stopping) break;
        log(`    (other cores ${fmt(r.otherCores)} > NOISE_MAX ${C.noiseMax}: repeating ${label} ${t.name})`);
        retry.spent += seconds;
        await sleep(C.pause * 1000);
        const again = await once(t);
        if (!again.failed && (r.failed || again.otherCores < r.otherCores)) r = again;
      }
      if (stopping) return false;
      t.runs.push(r);
      log(
        `  ${label} round ${round + 1}/${C.rounds} ${t.name.padEnd(10)} ${r.failed ? `FAILED ${r.failed}` : describe(r, t)}, other cores ${fmt(r.otherCores)}`,
      );
    }
  }
  return true;
}

/** Medians over a target's successful runs, and its noise and error counts. */
function summarize(t, key) {
  const ok = t.runs.filter((r) => !r.failed);
  const m = (k) => median(ok.map((r) => r[k]));
  const vals = ok.map((r) => r[key]);
  return {
    name: t.name,
    proxied: t.proxied,
    value: m(key),
    spread: vals.length ? ((Math.max(...vals) - Math.min(...vals)) / median(vals)) * 100 : NaN,
    p50: m('p50'),
    p99: m('p99'),
    proxyUs: m('proxyUsPerReq'),
    upstreamUs: m('upstreamUsPerReq'),
    proxySPerGB: m('proxySPerGB'),
    proxyFaultsPerGB: m('proxyFaultsPerGB'),
    proxyCores: m('proxyCores'),
    serverCores: m('serverCores'),
    otherCores: m('otherCores'),
    noisy: ok.filter((r) => r.otherCores > C.noiseMax).length,
    quiet: ok.filter((r) => r.otherCores <= C.noiseMax),
    failed: t.runs.length - ok.length,
    errors: ok.reduce((a, r) => a + (r.non2xx ?? 0) + (r.sockErrors ?? 0), 0),
    n: t.runs.length,
  };
}

const noiseCell = (r) => `${fmt(r.otherCores)}${r.noisy ? ` (${r.noisy}/${r.n} noisy)` : ''}`;
const errorCell = (r) => `${r.errors}${r.failed ? ` (${r.failed} failed runs)` : ''}`;

/** The markdown table of an HTTP comparison (L7, or small requests through the L4 listener). */
function rpsTable(rows) {
  const direct = rows[0];
  return [
    '| target | median RPS | × direct | spread % | p50 ms | p99 ms | proxy CPU µs/req | upstream CPU µs/req | proxy cores | other cores | errors |',
    '|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmtInt(r.value)} | ${fmt(r.value / direct.value)} | ${fmt(r.spread, 1)} | ${fmtMs(r.p50)} | ` +
        `${fmtMs(r.p99)} | ${r.proxied ? fmt(r.proxyUs, 1) : 'n/a'} | ${fmt(r.upstreamUs, 1)} | ` +
        `${r.proxied ? fmt(r.proxyCores) : 'n/a'} | ${noiseCell(r)} | ${errorCell(r)} |`,
    ),
  ];
}

const loadDesc = (kind, seconds) =>
  kind === 'wrk' ? `wrk -t${C.threads} -c${C.conns} -d${seconds}s --latency` : `autocannon -c${C.conns} -d${seconds}`;

/** Warm-up of each target with the load generator, not measured. */
async function warmUp(kind, targets) {
  if (C.warmup <= 0) return;
  for (const t of targets) {
    const r = await load(kind, t.url, C.warmup);
    if (r.failed) throw new Error(`warm-up of ${t.name} failed: ${r.failed}`);
  }
}

const describeRps = (r, t) =>
  `${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms` +
  (t.proxied ? `, ${fmt(r.proxyUsPerReq, 1)} µs/req` : '') +
  ((r.non2xx ?? 0) + (r.sockErrors ?? 0) ? `, ${(r.non2xx ?? 0) + (r.sockErrors ?? 0)} errors` : '');

// ------------------------------------------------------------------------------------------------ L7
async function benchL7(kind, upstreams) {
  const proxy = await startSwitchyard(upstreams);
  log(`L7: switchyard (pid ${proxy.pid}) on ${proxy.port}`);
  const seenDirect = await preflight(upstreams[0].port, 3);
  const seenProxy = await preflight(proxy.port, 6);
  if (seenProxy.length < 2) throw new Error(`switchyard did not balance: only ${seenProxy.join(',')} answered`);
  log(`preflight: direct -> ${seenDirect.join('+')}, switchyard -> ${seenProxy.join('+')}`);

  const workers = C.workers ? await startSwitchyardWorkers(upstreams) : undefined;
  if (workers) log(`L7: switchyard with workers: auto (primary pid ${workers.pid}) on ${workers.port}`);
  const realistic = C.realistic ? await startSwitchyardRealistic(upstreams) : undefined;
  if (realistic) log(`L7: switchyard with the realistic config (pid ${realistic.pid}) on ${realistic.port}`);
  const targets = [
    { name: 'direct', url: `http://${LOOP}:${upstreams[0].port}/`, proxied: false, runs: [], watch: [proxy] },
    { name: 'switchyard', url: `http://${LOOP}:${proxy.port}/`, proxied: true, runs: [], watch: [proxy] },
    ...(workers
      ? [
          {
            name: 'switchyard workers:auto',
            url: `http://${LOOP}:${workers.port}/`,
            proxied: true,
            runs: [],
            watch: [workers],
            proxy: workers,
          },
        ]
      : []),
    ...(realistic
      ? [
          {
            name: 'switchyard realistic config',
            url: `http://${LOOP}:${realistic.port}/`,
            proxied: true,
            runs: [],
            watch: [realistic],
            proxy: realistic,
          },
        ]
      : []),
  ];
  const desc = loadDesc(kind, C.duration);
  log(`L7: ${desc}; warm-up ${C.warmup}s per target, ${C.rounds} interleaved rounds`);
  await warmUp(kind, targets);
  const once = (t) => measure(() => load(kind, t.url, C.duration), t, t.proxy ?? proxy, upstreams);
  if (!(await runRounds('L7', targets, C.duration, once, describeRps))) return null;

  const rows = targets.map((t) => summarize(t, 'rps'));
  const [direct, sy] = rows;
  const syWorkers = rows.find((r) => r.name === 'switchyard workers:auto');
  const syRealistic = rows.find((r) => r.name === 'switchyard realistic config');
  return {
    rows,
    render: (ended) => {
      const syEnd = ended.find((e) => e.name === 'switchyard');
      const out = proxyOutput.filter((l) => !l.startsWith('[l4 '));
      return [
        '### L7: HTTP through Switchyard',
        '',
        `- load: \`${desc}\` (HTTP/1.1 keep-alive, GET / -> "hello\\n" with content-length), warm-up ${C.warmup}s per ` +
          `target, ${C.rounds} interleaved rounds (ABBA), medians`,
        `- upstreams: two node:http processes; switchyard: \`node bin/switchyard.js ${proxy.args.join(' ')}\` ` +
          `(round-robin), preflight saw ${seenProxy.join('+')}`,
        '',
        ...rpsTable(rows),
        '',
        `Switchyard / direct RPS = **${fmt(sy.value / direct.value)}**; Switchyard proxy CPU = **${fmt(sy.proxyUs, 1)} µs/req**; ` +
          `p99 ${fmtMs(sy.p99)} ms vs ${fmtMs(direct.p99)} ms direct` +
          (sy.quiet.length
            ? `; over the ${sy.quiet.length} quiet Switchyard run(s) only: ${fmt(median(sy.quiet.map((r) => r.proxyUsPerReq)), 1)} µs/req.`
            : '; no Switchyard run was quiet.'),
        ...(syWorkers
          ? [
              '',
              `With \`workers: auto\` (${os.availableParallelism()} workers + the primary; CPU is the whole process tree): ` +
                `**${fmt(syWorkers.value / direct.value)}** × direct RPS, **${fmt(syWorkers.value / sy.value)}** × the single ` +
                `process, ${fmt(syWorkers.proxyUs, 1)} µs/req.`,
            ]
          : []),
        ...(syRealistic
          ? [
              '',
              `With the realistic config (bench/realistic-config.mjs: 8 routes, health checks every second, access log ` +
                `to a file, admin on and scraped): **${fmt(syRealistic.proxyUs, 1)} µs/req**, ` +
                `**${fmt(syRealistic.proxyUs / sy.proxyUs)}** × the bare one-liner; p99 ${fmtMs(syRealistic.p99)} ms.`,
            ]
          : []),
        '',
        `- switchyard stopped with: ${syEnd ? String(syEnd.exit) : 'n/a'}; it printed ${out.length} line(s) on stdout/stderr` +
          (out.length ? ':' : '.'),
        ...out.slice(0, 20).map((l) => `  - \`${l.slice(0, 300)}\``),
      ];
    },
  };
}

// ------------------------------------------------------------------------------------------------ L4
async function benchL4(kind, upstreams) {
  const tool = pickBulkTool();
  const bulkServer = await startBulkServer(tool);
  const proxy = await startSwitchyardL4(bulkServer, upstreams);
  log(
    `L4: bulk server (${tool}) on ${bulkServer.port}; switchyard (pid ${proxy.pid}) tcp listeners: bulk ` +
      `${proxy.bulkPort} -> ${bulkServer.port}, small ${proxy.smallPort} -> ${upstreams.map((u) => u.port).join('+')}`,
  );
  const watch = [proxy, bulkServer];
  const secs = C.l4Duration;

  // Bulk: direct to the server vs through the `bulk` listener. A short unmeasured run of each warms up (and checks).
  const bulkTargets = [
    { name: 'direct', port: bulkServer.port, proxied: false, runs: [], watch },
    { name: 'switchyard', port: proxy.bulkPort, proxied: true, runs: [], watch },
  ];
  for (const t of bulkTargets) {
    const r = await bulk(tool, t.port, Math.max(2, Math.min(3, C.warmup + 1)));
    if (r.failed) throw new Error(`bulk warm-up of ${t.name} failed: ${r.failed}`);
    await sleep(C.pause * 1000);
  }
  const bulkDesc =
    tool === 'iperf3'
      ? `iperf3 -c … -t ${Math.max(1, secs - 1)} -O 1 (one TCP stream, client -> server; first second left out)`
      : `Node source -> sink, one TCP stream of 256 KiB writes for ${secs} s`;
  log(`L4 bulk: ${bulkDesc}; ${C.rounds} interleaved rounds`);
  const onceBulk = (t) => measure(() => bulk(tool, t.port, secs), t, proxy, [bulkServer]);
  const describeBulk = (r, t) =>
    `${fmt(r.gbps)} Gbit/s` +
    (t.proxied
      ? `, ${fmt(r.proxySPerGB, 3)} CPU s/GB, ${fmt(r.proxyCores)} cores, ${fmtInt(r.proxyFaultsPerGB)} page faults/GB`
      : '');
  if (!(await runRounds('L4 bulk', bulkTargets, secs, onceBulk, describeBulk))) return null;

  // Small requests: wrk GET / direct to upstream a vs through the `small` listener (round-robin per connection).
  let smallTargets = [];
  let seenSmall = [];
  const smallDesc = loadDesc(kind, secs);
  if (C.l4Rps) {
    seenSmall = await preflight(proxy.smallPort, 6, true);
    if (seenSmall.length < 2) throw new Error(`the L4 listener did not balance: only ${seenSmall.join(',')} answered`);
    log(`L4 preflight (a new connection per request): switchyard tcp -> ${seenSmall.join('+')}`);
    smallTargets = [
      { name: 'direct', url: `http://${LOOP}:${upstreams[0].port}/`, proxied: false, runs: [], watch },
      { name: 'switchyard', url: `http://${LOOP}:${proxy.smallPort}/`, proxied: true, runs: [], watch },
    ];
    log(`L4 small requests: ${smallDesc}; warm-up ${C.warmup}s per target, ${C.rounds} interleaved rounds`);
    await warmUp(kind, smallTargets);
    const onceSmall = (t) => measure(() => load(kind, t.url, secs), t, proxy, upstreams);
    if (!(await runRounds('L4 small', smallTargets, secs, onceSmall, describeRps))) return null;
  }

  const bulkRows = bulkTargets.map((t) => summarize(t, 'gbps'));
  const smallRows = smallTargets.map((t) => summarize(t, 'rps'));
  return {
    bulkRows,
    smallRows,
    render: (ended) => {
      const syEnd = ended.find((e) => e.name === 'switchyard-l4');
      const out = proxyOutput.filter((l) => l.startsWith('[l4 '));
      const [bd, bs] = bulkRows;
      const lines = [
        '### L4: TCP through a Switchyard `tcp` listener',
        '',
        `- switchyard: \`node bin/switchyard.js ${proxy.args.join(' ')}\` with the config from bench/l4-config.mjs ` +
          `(listener \`bulk\` -> the bulk server, one endpoint; listener \`small\` -> both node:http upstreams, ` +
          `round-robin per connection)`,
        `- bulk: \`${bulkDesc}\`, ${C.rounds} interleaved rounds (ABBA), medians; proxy CPU s/GB = proxy ` +
          'CPU-seconds per wall-second / GB per second (GB = 10^9 bytes); proxy page faults/GB = minor faults of ' +
          'the Switchyard process (/proc/<pid>/stat field 10) per GB, the same way',
        '',
        '| target | median Gbit/s | × direct | spread % | proxy CPU s/GB | proxy cores | proxy page faults/GB | server cores | other cores | errors |',
        '|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
        ...bulkRows.map(
          (r) =>
            `| ${r.name} | ${fmt(r.value)} | ${fmt(r.value / bd.value)} | ${fmt(r.spread, 1)} | ` +
            `${r.proxied ? fmt(r.proxySPerGB, 3) : 'n/a'} | ${r.proxied ? fmt(r.proxyCores) : 'n/a'} | ` +
            `${r.proxied ? fmtInt(r.proxyFaultsPerGB) : 'n/a'} | ` +
            `${fmt(r.serverCores)} | ${noiseCell(r)} | ${r.failed ? `${r.failed} failed runs` : 0} |`,
        ),
        '',
        `Switchyard / direct throughput = **${fmt(bs.value / bd.value)}** (${fmt(bs.value)} vs ${fmt(bd.value)} Gbit/s); ` +
          `proxy CPU = **${fmt(bs.proxySPerGB, 3)} s/GB**` +
          (bs.quiet.length
            ? `; over the ${bs.quiet.length} quiet Switchyard run(s) only: ${fmt(median(bs.quiet.map((r) => r.gbps)))} Gbit/s, ` +
              `${fmt(median(bs.quiet.map((r) => r.proxySPerGB)), 3)} s/GB.`
            : '; no Switchyard run was quiet.'),
      ];
      if (smallRows.length) {
        const [sd, ss] = smallRows;
        lines.push(
          '',
          `- small requests: \`${smallDesc}\` GET / ("hello\\n", keep-alive), warm-up ${C.warmup}s per target, ` +
            `${C.rounds} interleaved rounds (ABBA), medians; direct = upstream a alone, preflight through the ` +
            `listener (a new connection per request) saw ${seenSmall.join('+')}`,
          '',
          ...rpsTable(smallRows),
          '',
          `Switchyard (L4) / direct RPS = **${fmt(ss.value / sd.value)}**; proxy CPU = **${fmt(ss.proxyUs, 1)} µs/req**` +
            (ss.quiet.length
              ? `; over the ${ss.quiet.length} quiet Switchyard run(s) only: ${fmt(median(ss.quiet.map((r) => r.proxyUsPerReq)), 1)} µs/req.`
              : '; no Switchyard run was quiet.'),
        );
      }
      lines.push(
        '',
        `- switchyard (L4) stopped with: ${syEnd ? String(syEnd.exit) : 'n/a'}; it printed ${out.length} line(s) on stdout/stderr` +
          (out.length ? ':' : '.'),
        ...out.slice(0, 20).map((l) => `  - \`${l.slice(0, 300)}\``),
      );
      return lines;
    },
  };
}

// ------------------------------------------------------------------------------------------------ main
async function main() {
  const t0 = Date.now();
  if (!C.l7 && !C.l4) throw new Error('L7=0 and L4=0: nothing to run');
  ensureBuilt();
  const kind = pickLoadgen();
  const upstreams = [await startUpstream('a'), await startUpstream('b')];
  log(`upstreams (node:http) on ${upstreams.map((u) => u.port).join(', ')}`);

  const l7 = C.l7 ? await benchL7(kind, upstreams) : undefined;
  if (l7 === null) return 130;
  const l4 = C.l4 ? await benchL4(kind, upstreams) : undefined;
  if (l4 === null) return 130;
  const ended = await stopAll();

  const cpus = os.cpus();
  const lines = [
    `## npm run bench — ${new Date().toISOString()}`,
    '',
    `- machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `kernel ${os.release()}; node ${process.version}; load generator, proxy and upstreams share these CPUs`,
    `- total ${((Date.now() - t0) / 1000).toFixed(0)} s; parts: ${[C.l7 && 'L7', C.l4 && 'L4'].filter(Boolean).join(' + ')}`,
    '',
    ...(l7 ? [...l7.render(ended), ''] : []),
    ...(l4 ? [...l4.render(ended), ''] : []),
    'proxy CPU µs/req = utime+stime of the Switchyard process (/proc/<pid>/stat) / requests completed. upstream CPU ' +
      'µs/req = both upstreams together; server cores = the bulk server (iperf3 -s or the Node sink). other cores = ' +
      'busy CPU (from /proc/stat) that none of these processes used; ' +
      `a run above NOISE_MAX=${C.noiseMax} is noisy; it was repeated up to RETRIES=${C.retries} time(s) ` +
      `(${retry.spent} s spent of RETRY_BUDGET=${C.retryBudget}), keeping the quieter attempt. On a shared 2-core machine RPS mostly shows CPU ` +
      'sharing; µs/req is the steadier number, though it too rises when other work shares the cores.',
  ];
  const report = lines.join('\n') + '\n';
  process.stdout.write('\n' + report);
  if (E.RESULTS_OUT) fs.writeFileSync(E.RESULTS_OUT, report);
  const rows = [...(l7?.rows ?? []), ...(l4?.bulkRows ?? []), ...(l4?.smallRows ?? [])];
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
