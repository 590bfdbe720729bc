import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile } from 'node:fs/promises';
import { request as httpsRequest, Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import { connect as h2connect, constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';
import { createTestCa, type TestCa } from './helpers/certs.js';
import { send } from './helpers/http.js';
import { configWith, startOrigin } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';

async function ca(t: TestContext): Promise<TestCa> {
  const created = await createTestCa();
  t.after(() => created.remove());
  return created;
}

/** A balancer with one https listener (`web`) in front of `urls`, serving the given certificates. */
async function httpsLb(
  t: TestContext,
  urls: readonly string[],
  certificates: { cert: string; key: string }[],
  service = {},
) {
  const lb = await startSwitchyard(configWith(urls, service, { protocol: 'https', tls: { certificates } }));
  t.after(() => lb.close());
  return lb;
}

function handshake(
  port: number,
  options: Record<string, unknown>,
): Promise<{ cert: PeerCertificate; protocol: string | null; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      resolve({ cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), alpn: socket.alpnProtocol });
      socket.end();
    });
    socket.on('error', reject);
  });
}

function getHttps(
  port: number,
  caCert: string,
  options: Record<string, unknown> = {},
): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/', ca: caCert, servername: 'a.test', headers: { host: 'a.test' }, ...options },
      (res) => {
        const fingerprint = (res.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate()
          .fingerprint256;
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('SNI picks the certificate for each name, and the first one when the name is unknown', async (t) => {
  const authority = await ca(t);
  const a = await authority.issue(['a.test']);
  const b = await authority.issue(['b.test', '*.b.test']);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await httpsLb(
    t,
    [origin.url],
    [
      { cert: a.certFile, key: a.keyFile },
      { cert: b.certFile, key: b.keyFile },
    ],
  );
  const subject = async (servername?: string) =>
    (await handshake(lb.port(), servername === undefined ? {} : { servername })).cert.subject.CN;
  assert.equal(await subject('a.test'), 'a.test');
  assert.equal(await subject('b.test'), 'b.test');
  assert.equal(await subject('api.b.test'), 'b.test');
  assert.equal(await subject('other.test'), 'a.test');
  assert.equal(await subject(), 'a.test');
});

test('TLS 1.2 and 1.3 are offered; TLS 1.1 and CBC suites are refused', async (t) => {
  const authority = await ca(t);
  const a = await authority.issue(['a.test']);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await httpsLb(t, [origin.url], [{ cert: a.certFile, key: a.keyFile }]);
  assert.equal((await handshake(lb.port(), { servername: 'a.test' })).protocol, 'TLSv1.3');
  assert.equal((await handshake(lb.port(), { servername: 'a.test', maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  await assert.rejects(
    handshake(lb.port(), {
      servername: 'a.test',
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    }),
  );
  await assert.rejects(
    handshake(lb.port(), {
      servername: 'a.test',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA',
    }),
  );
});

test('HTTPS over HTTP/1.1 and HTTP/2 (ALPN) reaches the instance with X-Forwarded-Proto https', async (t) => {
  const authority = await ca(t);
  const a = await authority.issue(['a.test']);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await httpsLb(t, [origin.url], [{ cert: a.certFile, key: a.keyFile }]);
  assert.equal((await handshake(lb.port(), { servername: 'a.test', ALPNProtocols: ['h2', 'http/1.1'] })).alpn, 'h2');
  const h1 = await getHttps(lb.port(), authority.cert);
  assert.equal(h1.status, 200);
  assert.equal(h1.body, 'o');
  assert.equal(origin.requests[0]?.headers['x-forwarded-proto'], 'https');

  const session = h2connect(`https://a.test:${lb.port()}`, {
    ca: authority.cert,
    host: '127.0.0.1',
    servername: 'a.test',
  } as never);
  t.after(() => session.close());
  const responses = await Promise.all(
    Array.from(
      { length: 5 },
      (_, i) =>
        new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
          const stream = session.request({ ':path': `/h2/${i}`, cookie: 'a=1', 'x-b': 'y' });
          stream.on('error', reject);
          let headers: Record<string, unknown> = {};
          let body = '';
          stream.on('response', (h) => (headers = h));
          stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
          stream.on('end', () => resolve({ headers, body }));
          stream.end();
        }),
    ),
  );
  for (const { headers, body } of responses) {
    assert.equal(headers[':status'], 200);
    assert.equal(body, 'o');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) {
      assert.equal(headers[name], undefined, `${name} leaked into an HTTP/2 response`);
    }
  }
  const seen = origin.requests.find((r) => r.url === '/h2/0');
  assert.equal(seen?.headers['host'], `a.test:${lb.port()}`);
  assert.equal(seen?.headers['x-forwarded-proto'], 'https');
  assert.equal(seen?.headers['cookie'], 'a=1');
});

test('an HTTP/2 stream reset by the client aborts its upstream request at once', async (t) => {
  const authority = await ca(t);
  const a = await authority.issue(['a.test']);
  let aborted = 0;
  const hang = await startOrigin('hang', (req, res) => {
    req.resume();
    res.on('close', () => aborted++);
  });
  t.after(() => hang.close());
  const lb = await httpsLb(t, [hang.url], [{ cert: a.certFile, key: a.keyFile }]);
  const session = h2connect(`https://a.test:${lb.port()}`, {
    ca: authority.cert,
    host: '127.0.0.1',
    servername: 'a.test',
  } as never);
  t.after(() => session.close());
  for (let i = 0; i < 5; i++) {
    const stream = session.request({ ':path': '/' });
    stream.on('error', () => undefined);
    stream.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    stream.close(h2.NGHTTP2_CANCEL);
  }
  const deadline = Date.now() + 3_000;
  while (aborted < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(aborted, 5);
  assert.equal(hang.requests.length, 5);
});

test('curl --http2 gets an HTTP/2 answer', async (t) => {
  const authority = await ca(t);
  const a = await authority.issue(['a.test']);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await httpsLb(t, [origin.url], [{ cert: a.certFile, key: a.keyFile }]);
  const { stdout } = await promisify(execFile)('curl', [
    '--http2',
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_version} %{http_code}',
    '--cacert',
    authority.certFile,
    '--resolve',
    `a.test:${lb.port()}:127.0.0.1`,
    `https://a.test:${lb.port()}/`,
  ]);
  assert.equal(stdout, '2 200');
});

test('a certificate swapped on disk is served to new connections without dropping an open one', async (t) => {
  const authority = await ca(t);
  const first = await authority.issue(['a.test'], 'live');
  const second = await authority.issue(['a.test'], 'next');
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await httpsLb(t, [origin.url], [{ cert: first.certFile, key: first.keyFile }]);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const before = await getHttps(lb.port(), authority.cert, { agent });
  assert.equal(before.fingerprint, new X509Certificate(first.cert).fingerprint256);
  // certbot-style replacement: new files renamed over the live ones.
  await copyFile(second.keyFile, `${first.keyFile}.new`);
  await copyFile(second.certFile, `${first.certFile}.new`);
  const { rename } = await import('node:fs/promises');
  await rename(`${first.keyFile}.new`, first.keyFile);
  await rename(`${first.certFile}.new`, first.certFile);
  const deadline = Date.now() + 5_000;
  let fresh = await getHttps(lb.port(), authority.cert, { agent: false });
  while (fresh.fingerprint !== new X509Certificate(second.cert).fingerprint256 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    fresh = await getHttps(lb.port(), authority.cert, { agent: false });
  }
  assert.equal(fresh.fingerprint, new X509Certificate(second.cert).fingerprint256);
  const onOldConnection = await getHttps(lb.port(), authority.cert, { agent });
  assert.equal(onOldConnection.status, 200);
  assert.equal(onOldConnection.fingerprint, before.fingerprint, 'the open connection kept its session');
});

test('re-encryption: an instance with a certificate from the configured CA is reached; a wrong CA or name gives 502', async (t) => {
  const authority = await ca(t);
  const stranger = await ca(t);
  const served = await authority.issue(['backend.internal', '127.0.0.1']);
  const instance = createHttpsServer({ cert: served.cert, key: served.key }, (req, res) => {
    req.resume();
    res.end(`tls:${(req.socket as unknown as { encrypted?: boolean }).encrypted === true}`);
  });
  await new Promise<void>((resolve) => instance.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => instance.close(() => resolve())));
  const url = `https://127.0.0.1:${(instance.address() as AddressInfo).port}`;
  const through = async (upstreamTls: Record<string, unknown>) => {
    const lb = await startSwitchyard(configWith([url], { upstreamTls }));
    t.after(() => lb.close());
    return send(lb.url('/'));
  };
  const verified = await through({ ca: authority.certFile, servername: 'backend.internal' });
  assert.equal(verified.status, 200);
  assert.equal(verified.body, 'tls:true');
  assert.equal((await through({ ca: stranger.certFile })).status, 502);
  assert.equal((await through({ ca: authority.certFile, servername: 'someone-else.internal' })).status, 502);
});
