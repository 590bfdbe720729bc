import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { adminConfigWith, readToken, startWithAdmin } from './helpers/admin.js';
import { createTestCa, type TestCa } from './helpers/certs.js';
import { answerH2, startH2Origin } from './helpers/faulty-origins.js';
import { send } from './helpers/http.js';
import { parseExposition } from './helpers/prometheus.js';
import { waitFor } from './helpers/wait.js';

/** An HTTPS (HTTP/1.1) instance whose certificate names `app.internal` only; it records the SNI it was asked for. */
async function httpsInstance(t: TestContext, ca: TestCa) {
  const cert = await ca.issue(['app.internal']);
  const seenSni: (string | false)[] = [];
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    seenSni.push((req.socket as TLSSocket).servername ?? false);
    res.end(`h1 ${String(req.headers.host)}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seenSni, cert };
}

/** A balancer with its admin API whose process log is captured as parsed JSON lines. */
async function lbWithLog(t: TestContext, url: string, service: Record<string, unknown>) {
  const lines: Record<string, unknown>[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const lb = await startWithAdmin(adminConfigWith([url], service), { logger: pino({ level: 'info' }, sink) });
  t.after(() => lb.close());
  return { lb, lines };
}

async function tlsFailures(lb: Awaited<ReturnType<typeof startWithAdmin>>, failureClass: string): Promise<number> {
  const metrics = parseExposition((await lb.api('GET', '/metrics', { token: readToken })).body);
  return metrics.value('switchyard_upstream_tls_failures_total', { service: 'app', class: failureClass }) ?? 0;
}

test("upstreamTls.servername is the name sent and verified, whatever the client's Host says", async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const instance = await httpsInstance(t, ca);
  const { lb } = await lbWithLog(t, instance.url, { upstreamTls: { ca: ca.certFile, servername: 'app.internal' } });
  const reply = await send(lb.url('/'), { headers: { host: 'shop.example' } });
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'h1 shop.example');
  assert.deepEqual(instance.seenSni, ['app.internal']);
});

test('without servername the endpoint host is verified, not the Host: a mismatch is a 502 naming the class, logged and counted', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const instance = await httpsInstance(t, ca);
  const { lb, lines } = await lbWithLog(t, instance.url, { upstreamTls: { ca: ca.certFile } });
  // The client names the certificate's host: it must not be what Switchyard checks.
  const reply = await send(lb.url('/'), { headers: { host: 'app.internal' } });
  assert.equal(reply.status, 502);
  const problem = JSON.parse(reply.body) as { type: string; detail?: string };
  assert.equal(problem.type, 'https://switchyard.dev/problems/upstream_tls_failure');
  assert.equal(problem.detail, 'name_mismatch');
  assert.deepEqual(instance.seenSni, []);
  const warning = await waitFor(
    () => lines.find((line) => line.msg === 'upstream TLS handshake failed'),
    5_000,
    'the TLS failure in the log',
  );
  assert.equal(warning.class, 'name_mismatch');
  assert.match(String(warning.cause), /^ERR_TLS_CERT_ALTNAME_INVALID/);
  assert.ok((await tlsFailures(lb, 'name_mismatch')) >= 1);
});

test('an instance certificate from an unknown CA is unknown_ca, over HTTP/1.1 and HTTP/2', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const other = await createTestCa('Another CA');
  t.after(() => other.remove());
  const instance = await httpsInstance(t, ca);
  const h1 = await lbWithLog(t, instance.url, { upstreamTls: { ca: other.certFile, servername: 'app.internal' } });
  const reply = await send(h1.lb.url('/'));
  assert.equal(reply.status, 502);
  assert.equal((JSON.parse(reply.body) as { detail?: string }).detail, 'unknown_ca');
  assert.ok((await tlsFailures(h1.lb, 'unknown_ca')) >= 1);

  const h2Origin = await startH2Origin(answerH2('h2 ok'), { tls: await ca.issue(['app.internal']) });
  t.after(() => h2Origin.close());
  const tls = { ca: ca.certFile, servername: 'app.internal' };
  const good = await lbWithLog(t, h2Origin.url, { upstreamProtocol: 'http2', upstreamTls: tls });
  assert.equal((await send(good.lb.url('/'))).body, 'h2 ok');
  const bad = await lbWithLog(t, h2Origin.url, {
    upstreamProtocol: 'http2',
    upstreamTls: { ...tls, ca: other.certFile },
  });
  const refused = await send(bad.lb.url('/'));
  assert.equal(refused.status, 502);
  assert.equal((JSON.parse(refused.body) as { detail?: string }).detail, 'unknown_ca');
});
