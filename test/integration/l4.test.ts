import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import { adminToken, readToken, startWithAdmin } from './helpers/admin.js';
import { createTestCa } from './helpers/certs.js';
import { parseExposition } from './helpers/prometheus.js';
import { startOrigin } from './helpers/origin.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A TCP instance: greets each connection with `<id>\n`, then runs `handle` (echo by default). */
interface TcpInstance {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly server: Server;
  readonly sockets: Set<Socket>;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

async function startTcpInstance(
  t: TestContext,
  id: string,
  handle: (socket: Socket) => void = (socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
  },
  greet = true,
): Promise<TcpInstance> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    instance.accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (greet) socket.write(`${id}\n`);
    handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const instance: TcpInstance = {
    id,
    port,
    url: `tcp://127.0.0.1:${port}`,
    server,
    sockets,
    accepted: 0,
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => instance.close());
  return instance;
}

function tcpConfig(
  urls: readonly string[],
  service: Record<string, unknown> = {},
  listener: Record<string, unknown> = {},
): Parameters<typeof startSwitchyard>[0] {
  return {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'tcp', protocol: 'tcp', address: '127.0.0.1:0', service: 'app', ...listener }],
    routes: [],
    services: { app: { endpoints: urls.map((url) => ({ url })), ...service } },
  };
}

async function startLb(t: TestContext, config: Parameters<typeof startSwitchyard>[0]): Promise<TestSwitchyard> {
  const lb = await startSwitchyard(config);
  t.after(() => lb.close(500));
  return lb;
}

/** A client connection with everything it received collected. */
interface Client {
  readonly socket: Socket;
  received(): string;
  bytes(): Buffer;
  readonly ended: Promise<void>;
  readonly closed: Promise<boolean>;
}

async function open(port: number): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const ended = once(socket, 'end').then(() => undefined);
  ended.catch(() => undefined);
  const closed = new Promise<boolean>((resolve) => socket.once('close', resolve));
  await once(socket, 'connect');
  return {
    socket,
    received: () => Buffer.concat(chunks).toString(),
    bytes: () => Buffer.concat(chunks),
    ended,
    closed,
  };
}

/** The instance that answered: the greeting line. */
async function greeting(client: Client): Promise<string> {
  return waitFor(() => {
    const text = client.received();
    const eol = text.indexOf('\n');
    return eol === -1 ? undefined : text.slice(0, eol);
  });
}

test('every segment of a connection reaches one instance; connections go round-robin', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((id) => startTcpInstance(t, id)));
  const lb = await startLb(t, tcpConfig(instances.map((i) => i.url)));
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const client = await open(lb.port('tcp'));
    const id = await greeting(client);
    order.push(id);
    for (let n = 0; n < 5; n++) {
      client.socket.write(`segment ${n};`);
      await sleep(20);
    }
    const expected = `${id}\n${Array.from({ length: 5 }, (_, n) => `segment ${n};`).join('')}`;
    await waitFor(() => client.received() === expected, 5_000, 'every segment echoed by the same instance');
    client.socket.end();
    await client.closed;
  }
  assert.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('100 MiB each way, byte-exact, through one connection at once (back-pressure both ways)', async (t) => {
  const instance = await startTcpInstance(t, 'echo', undefined, false);
  const lb = await startLb(t, tcpConfig([instance.url]));
  const socket = connect({ host: '127.0.0.1', port: lb.port('tcp') });
  await once(socket, 'connect');
  const total = 100 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      got.update(chunk);
      received += chunk.length;
      if (received >= total) resolve();
    });
    socket.on('error', reject);
  });
  for (let written = 0; written < total; written += block.length) {
    sent.update(block);
    if (!socket.write(block)) await once(socket, 'drain');
  }
  await done;
  assert.equal(received, total);
  assert.equal(got.digest('hex'), sent.digest('hex'));
  socket.destroy();
});

test('1 000 concurrent connections spread evenly round-robin over four instances', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c', 'd'].map((id) => startTcpInstance(t, id)));
  const lb = await startLb(t, tcpConfig(instances.map((i) => i.url)));
  const clients = await Promise.all(Array.from({ length: 1000 }, () => open(lb.port('tcp'))));
  const ids = await Promise.all(clients.map((c) => greeting(c)));
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  assert.deepEqual(counts, { a: 250, b: 250, c: 250, d: 250 });
  await waitFor(
    () => instances.every((i) => i.sockets.size === 250),
    10_000,
    'all 1 000 connections open at the instances at once',
  );
  for (const client of clients) client.socket.destroy();
});

test('least-connections counts open connections: a new one goes to the instance holding fewest', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startTcpInstance(t, id)));
  const lb = await startLb(
    t,
    tcpConfig(
      instances.map((i) => i.url),
      { algorithm: 'least-connections' },
    ),
  );
  const first = await open(lb.port('tcp'));
  const firstId = await greeting(first);
  const held: Client[] = [first];
  for (let i = 0; i < 4; i++) {
    const client = await open(lb.port('tcp'));
    held.push(client);
    await greeting(client);
  }
  // 3 on the first, 2 on the other: close two on the first's instance, and the next two go there.
  const byId = await Promise.all(held.map(async (c) => ({ c, id: await greeting(c) })));
  const counts = byId.reduce<Record<string, number>>((acc, { id }) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }), {});
  assert.deepEqual(Object.values(counts).sort(), [2, 3]);
  const busier = Object.entries(counts).find(([, n]) => n === 3)![0];
  const toClose = byId.filter(({ id }) => id === busier).slice(0, 2);
  for (const { c } of toClose) {
    c.socket.destroy();
    await c.closed;
  }
  await sleep(50);
  const next = [await open(lb.port('tcp')), await open(lb.port('tcp'))];
  const nextIds = await Promise.all(next.map((c) => greeting(c)));
  assert.ok(nextIds.includes(busier), `a connection went to ${busier}, now the least busy`);
  assert.ok(typeof firstId === 'string');
  for (const c of [...held, ...next]) c.socket.destroy();
});

test('half-close: the client’s FIN reaches the instance, whose answer still comes back', async (t) => {
  const instance = await startTcpInstance(t, 'a', (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      // Only after the client finished sending: answer, then close this side.
      socket.end(`got ${Buffer.concat(chunks).toString()} and your FIN`);
    });
  });
  const lb = await startLb(t, tcpConfig([instance.url]));
  const client = await open(lb.port('tcp'));
  client.socket.end('question');
  await client.ended;
  assert.equal(client.received(), 'a\ngot question and your FIN');
});

test('half-close the other way: the instance’s FIN reaches the client, which can still send', async (t) => {
  let heard = '';
  const instance = await startTcpInstance(t, 'a', (socket) => {
    socket.end('bye for now');
    socket.on('data', (chunk: Buffer) => (heard += chunk.toString()));
  });
  const lb = await startLb(t, tcpConfig([instance.url]));
  const client = await open(lb.port('tcp'));
  await client.ended;
  assert.equal(client.received(), 'a\nbye for now');
  client.socket.end('still talking after your FIN');
  await waitFor(() => heard === 'still talking after your FIN', 5_000, 'the instance to read after its own FIN');
});

test('a reset by the instance resets the client', async (t) => {
  const instance = await startTcpInstance(t, 'a', (socket) => {
    socket.on('data', () => socket.resetAndDestroy());
  });
  const lb = await startLb(t, tcpConfig([instance.url]));
  const client = await open(lb.port('tcp'));
  await greeting(client);
  const error = once(client.socket, 'error');
  client.socket.write('boom');
  const [err] = (await error) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
});

test('an instance killed mid-stream closes the client; new connections go elsewhere, a dead one costs nothing', async (t) => {
  const a = await startTcpInstance(t, 'a');
  const b = await startTcpInstance(t, 'b');
  const lb = await startLb(t, tcpConfig([a.url, b.url]));
  const client = await open(lb.port('tcp'));
  assert.equal(await greeting(client), 'a');
  await a.close();
  await client.ended;
  for (let i = 0; i < 4; i++) {
    const next = await open(lb.port('tcp'));
    assert.equal(await greeting(next), 'b', `connection ${i + 1} went to the live instance`);
    next.socket.write('ping');
    await waitFor(() => next.received() === 'b\nping');
    next.socket.destroy();
  }
});

test('connect and idle timeouts; max connections per listener refuses the one too many', async (t) => {
  const instance = await startTcpInstance(t, 'a');
  const lb = await startLb(
    t,
    tcpConfig([instance.url], { timeouts: { tunnelIdleMs: 1_200 } }, { limits: { maxConnections: 2 } }),
  );
  const [one, two] = [await open(lb.port('tcp')), await open(lb.port('tcp'))];
  await Promise.all([greeting(one), greeting(two)]);
  const three = connect({ host: '127.0.0.1', port: lb.port('tcp') });
  const [error] = (await once(three, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNRESET', 'the third connection is reset');
  let last = Date.now();
  for (let i = 0; i < 6; i++) {
    one.socket.write('x');
    await waitFor(() => one.received().length === 2 + i + 1);
    last = Date.now();
    await sleep(300);
  }
  await one.ended;
  const quietMs = Date.now() - last;
  assert.ok(quietMs >= 800 && quietMs < 6_000, `closed after ${quietMs} ms without traffic`);
  await two.ended;
});

test('closing the balancer lets an open connection work until the drain deadline, then ends it', async (t) => {
  const instance = await startTcpInstance(t, 'a');
  const lb = await startSwitchyard(tcpConfig([instance.url]));
  t.after(() => lb.close(0));
  const client = await open(lb.port('tcp'));
  await greeting(client);
  const started = Date.now();
  const closing = lb.close(600);
  await sleep(200);
  client.socket.write('during the drain');
  await waitFor(() => client.received() === 'a\nduring the drain');
  await client.ended;
  assert.ok(Date.now() - started >= 500, 'kept until the deadline');
  assert.equal(await closing, true);
});

/** Reads what a PROXY-protocol-aware instance receives first; the instance then echoes. */
function proxyAwareInstance(seen: Buffer[]): (socket: Socket) => void {
  return (socket) => {
    socket.once('data', (chunk: Buffer) => {
      seen.push(chunk);
      socket.on('data', (more: Buffer) => socket.write(more));
      socket.write('ready');
    });
  };
}

test('PROXY protocol v1 and v2 headers reach the instance with the client’s address, before any data', async (t) => {
  for (const version of ['v1', 'v2'] as const) {
    const seen: Buffer[] = [];
    const instance = await startTcpInstance(t, 'a', proxyAwareInstance(seen), false);
    const lb = await startLb(t, tcpConfig([instance.url], { proxyProtocol: version }));
    const client = await open(lb.port('tcp'));
    const clientPort = client.socket.localPort!;
    const lbPort = lb.port('tcp');
    await waitFor(() => seen.length === 1, 5_000, 'the instance to receive the header');
    const header = seen[0]!;
    if (version === 'v1') {
      assert.equal(header.toString('latin1'), `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${lbPort}\r\n`);
    } else {
      // Decoded by hand from the spec (§2.2): signature, version 2 + PROXY, TCP over IPv4, 12 address bytes.
      assert.deepEqual([...header.subarray(0, 12)], [13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10]);
      assert.equal(header[12], 0x21);
      assert.equal(header[13], 0x11);
      assert.equal(header.readUInt16BE(14), 12);
      assert.equal([...header.subarray(16, 20)].join('.'), '127.0.0.1');
      assert.equal([...header.subarray(20, 24)].join('.'), '127.0.0.1');
      assert.equal(header.readUInt16BE(24), clientPort);
      assert.equal(header.readUInt16BE(26), lbPort);
      assert.equal(header.length, 28, 'nothing but the header came first');
    }
    await waitFor(() => client.received() === 'ready');
    client.socket.write('data after the header');
    await waitFor(() => client.received() === 'readydata after the header');
    client.socket.destroy();
  }
});

test('a PROXY header from a trusted peer gives the client address passed on; from others it is plain data', async (t) => {
  const seen: Buffer[] = [];
  const instance = await startTcpInstance(t, 'a', proxyAwareInstance(seen), false);
  const lb = await startLb(
    t,
    tcpConfig([instance.url], { proxyProtocol: 'v1' }, { acceptProxyProtocol: ['127.0.0.0/8'] }),
  );
  const client = await open(lb.port('tcp'));
  // Sent in pieces, v2 this time: the listener waits for the whole header.
  const v2 = Buffer.concat([
    Buffer.from([13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10, 0x21, 0x11, 0, 12]),
    Buffer.from([203, 0, 113, 7, 198, 51, 100, 1]),
    Buffer.from([0xc3, 0x50, 0x1f, 0x90]),
  ]);
  client.socket.write(v2.subarray(0, 5));
  await sleep(50);
  client.socket.write(Buffer.concat([v2.subarray(5), Buffer.from('hello')]));
  await waitFor(() => seen.length === 1, 5_000, 'the instance to be connected');
  const first = seen[0]!.toString('latin1');
  assert.ok(first.startsWith('PROXY TCP4 203.0.113.7 127.0.0.1 50000 '), first);
  // The data after the header arrives (with the header in one segment or the next).
  await waitFor(() => client.received().includes('ready'));
  client.socket.destroy();

  const garbage = await open(lb.port('tcp'));
  garbage.socket.write('GET / HTTP/1.1\r\n\r\n');
  await garbage.ended; // a trusted peer without a PROXY header is closed
  assert.equal(seen.length, 1, 'and the instance saw nothing of it');
});

test('TLS passthrough routes by SNI without decrypting: the client verifies each instance’s own certificate', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const instances = await Promise.all(
    ['alpha.test', 'beta.test'].map(async (name) => {
      const pems = await ca.issue([name]);
      const server = createTlsServer({ cert: pems.cert, key: pems.key, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
        s.on('error', () => undefined);
        s.end(`${name} over ${s.alpnProtocol || 'none'}`);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return { name, port: (server.address() as AddressInfo).port };
    }),
  );
  const [alpha, beta] = instances as [(typeof instances)[0], (typeof instances)[0]];
  const lb = await startLb(t, {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [
      {
        name: 'tls',
        protocol: 'tls-passthrough',
        address: '127.0.0.1:0',
        routes: [
          { sni: 'alpha.test', service: 'alpha' },
          { sni: '*.beta.test', service: 'beta' },
          { sni: 'beta.test', service: 'beta' },
        ],
      },
    ],
    routes: [],
    services: {
      alpha: { endpoints: [{ url: `tcp://127.0.0.1:${alpha.port}` }] },
      beta: { endpoints: [{ url: `tcp://127.0.0.1:${beta.port}` }] },
    },
  });
  const ask = (servername: string | undefined, socket?: Socket): Promise<string> =>
    new Promise((resolve, reject) => {
      const tls = connectTls({
        ...(socket === undefined ? { host: '127.0.0.1', port: lb.port('tls') } : { socket }),
        ...(servername === undefined ? {} : { servername }),
        ca: ca.cert,
        ALPNProtocols: ['h2'],
        checkServerIdentity: (host, cert) =>
          // With SNI the default check applies; this asserts the certificate is the instance's own.
          cert.subject.CN === servername
            ? undefined
            : new Error(`certificate for ${String(cert.subject.CN)}, not ${host}`),
      });
      let text = '';
      let secured = false;
      tls.on('secureConnect', () => (secured = true));
      tls.on('data', (chunk: Buffer) => (text += chunk.toString()));
      tls.on('end', () => (secured ? resolve(text) : reject(new Error('closed before the TLS handshake'))));
      tls.on('error', reject);
    });
  assert.equal(await ask('alpha.test'), 'alpha.test over h2');
  assert.equal(await ask('beta.test'), 'beta.test over h2');
  // A ClientHello cut into single bytes at first: the listener waits for all of it.
  const raw = connect({ host: '127.0.0.1', port: lb.port('tls') });
  await once(raw, 'connect');
  const write = raw.write.bind(raw);
  let first = true;
  raw.write = (chunk: Buffer, ...rest: never[]) => {
    if (!first) return write(chunk, ...rest);
    first = false;
    for (let i = 0; i < 20; i++) write(chunk.subarray(i, i + 1));
    setTimeout(() => write(chunk.subarray(20)), 50);
    return true;
  };
  assert.equal(await ask('alpha.test', raw), 'alpha.test over h2');
  // No SNI and no default service: closed before anything reaches an instance.
  await assert.rejects(ask(undefined));
  // An unknown name, also closed.
  await assert.rejects(ask('gamma.test'));
});

test('TLS passthrough: no SNI goes to the default service; a client that sends nothing is closed after headerMs', async (t) => {
  const instance = await startTcpInstance(
    t,
    'default',
    (socket) => socket.once('data', () => socket.end('seen')),
    false,
  );
  const lb = await startLb(t, {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [
      { name: 'tls', protocol: 'tls-passthrough', address: '127.0.0.1:0', service: 'app', timeouts: { headerMs: 500 } },
    ],
    routes: [],
    services: { app: { endpoints: [{ url: instance.url }] } },
  });
  const hello = await new Promise<Buffer>((resolve) => {
    // A real ClientHello without SNI (connecting by IP sends none), captured by a plain server.
    const capture = createServer((s) => s.once('data', (chunk: Buffer) => (resolve(chunk), s.destroy())));
    capture.listen(0, '127.0.0.1', () => {
      const tls = connectTls({ host: '127.0.0.1', port: (capture.address() as AddressInfo).port });
      tls.on('error', () => capture.close());
    });
  });
  const client = await open(lb.port('tls'));
  client.socket.write(hello);
  await waitFor(() => client.received() === 'seen', 5_000, 'the default service to answer');
  const silent = await open(lb.port('tls'));
  const started = Date.now();
  await silent.ended;
  const waited = Date.now() - started;
  assert.ok(waited >= 400 && waited < 5_000, `closed after ${waited} ms`);
  assert.equal(instance.accepted, 1, 'the silent client never reached an instance');
});

test('an L4 config: routes may not attach HTTP routes to a tcp listener; tcp needs a service', async () => {
  const { configSchema } = await import('../../src/config/schema.js');
  const bad = configSchema.safeParse({
    listeners: [
      { name: 'tcp', protocol: 'tcp', address: '127.0.0.1:0' },
      {
        name: 'tls',
        protocol: 'tls-passthrough',
        address: '127.0.0.1:0',
        routes: [{ sni: 'a.test', service: 'nope' }],
      },
      { name: 'web', protocol: 'http', address: '127.0.0.1:0', routes: [{ sni: 'a.test', service: 'app' }] },
    ],
    routes: [{ listeners: ['tls'], service: 'app' }],
    services: { app: { endpoints: [{ url: 'tcp://127.0.0.1' }] } },
  });
  assert.equal(bad.success, false);
  const messages = bad.error?.issues.map((p) => `${p.path.join('.')}: ${p.message}`) ?? [];
  for (const expected of [
    /^listeners\.0\.service: a tcp or udp listener needs/,
    /^listeners\.1\.routes\.0\.service: unknown service "nope"/,
    /^listeners\.2\.routes: only a tls-passthrough listener/,
    /^routes\.0\.listeners\.0: "tls" is an L4 listener/,
    /^services\.app\.endpoints\.0\.url: a tcp:\/\/ or udp:\/\/ endpoint needs a port/,
  ]) {
    assert.ok(
      messages.some((m) => expected.test(m)),
      `${String(expected)} in ${JSON.stringify(messages)}`,
    );
  }
});

test('HTTP and HTTPS listeners take the client address from a trusted balancer’s PROXY header (v1 and v2)', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const pems = await ca.issue(['web.test']);
  const lb = await startLb(t, {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [
      { name: 'web', protocol: 'http', address: '127.0.0.1:0', acceptProxyProtocol: ['127.0.0.1/32'] },
      {
        name: 'websecure',
        protocol: 'https',
        address: '127.0.0.1:0',
        acceptProxyProtocol: ['127.0.0.1'],
        tls: { certificates: [{ cert: pems.certFile, key: pems.keyFile }] },
      },
    ],
    routes: [{ match: { path: { prefix: '/' } }, service: 'app' }],
    services: { app: { endpoints: [{ url: origin.url }] } },
  });
  // HTTP/1.1 with a v1 header in the same segment as the request.
  const plain = await open(lb.port('web'));
  plain.socket.write(
    `PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\nGET /v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  await plain.ended;
  assert.match(plain.received(), /^HTTP\/1\.1 200 /);
  assert.equal(origin.requests.at(-1)?.headers['x-forwarded-for'], '203.0.113.9');
  // HTTPS with a v2 header (IPv6 client), written before the TLS handshake starts.
  const raw = connect({ host: '127.0.0.1', port: lb.port('websecure') });
  await once(raw, 'connect');
  const v2 = Buffer.alloc(16 + 36);
  Buffer.from([13, 10, 13, 10, 0, 13, 10, 81, 85, 73, 84, 10, 0x21, 0x21, 0, 36]).copy(v2);
  Buffer.from('20010db8000000000000000000000042', 'hex').copy(v2, 16);
  Buffer.from('00000000000000000000000000000001', 'hex').copy(v2, 32);
  v2.writeUInt16BE(40001, 48);
  v2.writeUInt16BE(443, 50);
  raw.write(v2);
  const secure = connectTls({ socket: raw, servername: 'web.test', ca: ca.cert, ALPNProtocols: ['http/1.1'] });
  await once(secure, 'secureConnect');
  secure.write('GET /v2 HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n');
  let text = '';
  secure.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await once(secure, 'end');
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.equal(origin.requests.at(-1)?.url, '/v2');
  assert.equal(origin.requests.at(-1)?.headers['x-forwarded-for'], '2001:db8::42');
  // A trusted peer that sends no PROXY header is closed; the origin sees nothing.
  const before = origin.requests.length;
  const bare = await open(lb.port('web'));
  bare.socket.write('GET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
  await bare.ended;
  assert.equal(bare.received(), '');
  assert.equal(origin.requests.length, before);
});

test('L4 connections and bytes show per listener and endpoint in the admin API and in the metrics', async (t) => {
  const instance = await startTcpInstance(t, 'a');
  const config = tcpConfig([instance.url]) as Record<string, unknown>;
  const lb = await startWithAdmin({
    ...config,
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, read: readToken } },
  } as Parameters<typeof startWithAdmin>[0]);
  t.after(() => lb.close(500));
  const client = await open(lb.address('tcp').port);
  await greeting(client);
  client.socket.write('x'.repeat(1000));
  await waitFor(() => client.received().length === 2 + 1000);
  const listeners = (await lb.api('GET', '/api/listeners')).json as {
    name: string;
    connections: { open: number; accepted: number };
    bytes: { fromClients: number; toClients: number };
  }[];
  const tcp = listeners.find((l) => l.name === 'tcp')!;
  assert.deepEqual(tcp.connections, { open: 1, accepted: 1 });
  assert.deepEqual(tcp.bytes, { fromClients: 1000, toClients: 1002 });
  const service = (await lb.api('GET', '/api/services/app')).json as {
    endpoints: { inFlight: number; bytes: { toEndpoint: number; fromEndpoint: number } }[];
  };
  assert.equal(service.endpoints[0]?.inFlight, 1, 'the open connection counts as in flight');
  assert.deepEqual(service.endpoints[0]?.bytes, { toEndpoint: 1000, fromEndpoint: 1002 });
  const metrics = parseExposition((await lb.api('GET', '/metrics')).body);
  assert.equal(metrics.value('switchyard_open_connections', { listener: 'tcp', protocol: 'tcp' }), 1);
  assert.equal(metrics.value('switchyard_tcp_bytes_total', { listener: 'tcp', direction: 'in' }), 1000);
  assert.equal(metrics.value('switchyard_tcp_bytes_total', { listener: 'tcp', direction: 'out' }), 1002);
  client.socket.destroy();
  await waitFor(async () => {
    const after = parseExposition((await lb.api('GET', '/metrics')).body);
    return after.value('switchyard_open_connections', { listener: 'tcp', protocol: 'tcp' }) === 0;
  });
});

test('a connect that times out (an instance whose accept queue is full) moves on to the next endpoint', async (t) => {
  // A process that listens with a backlog of 1 and then never accepts: once its queue is full, the kernel drops SYNs
  // and a connect hangs until Switchyard's connect timeout.
  const stuck = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);setTimeout(()=>{for(;;){}},100)})",
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.after(() => stuck.kill('SIGKILL'));
  const [line] = (await once(stuck.stdout, 'data')) as [Buffer];
  const stuckPort = Number(line.toString().trim());
  await sleep(300);
  const fillers: Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  for (let i = 0; i < 8; i++) {
    const filler = connect({ host: '127.0.0.1', port: stuckPort });
    filler.on('error', () => undefined);
    fillers.push(filler);
    const connected = await Promise.race([once(filler, 'connect').then(() => true), sleep(300).then(() => false)]);
    if (!connected) break;
  }
  const live = await startTcpInstance(t, 'live');
  const lb = await startLb(t, tcpConfig([`tcp://127.0.0.1:${stuckPort}`, live.url], { timeouts: { connectMs: 500 } }));
  const started = Date.now();
  const client = await open(lb.port('tcp'));
  assert.equal(await greeting(client), 'live');
  const waited = Date.now() - started;
  assert.ok(waited >= 400 && waited < 5_000, `answered by the next endpoint after ${waited} ms`);
  client.socket.destroy();
});

test('a client that sends its data and FIN before the endpoint is connected still gets its FIN passed on', async (t) => {
  const instance = await startTcpInstance(
    t,
    'a',
    (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).toString()} and your FIN`));
    },
    false,
  );
  // With a PROXY header to read first, everything (header, data, FIN) has arrived before routing even starts.
  const lb = await startLb(t, tcpConfig([instance.url], {}, { acceptProxyProtocol: ['127.0.0.1'] }));
  for (let i = 0; i < 5; i++) {
    const client = await open(lb.port('tcp'));
    client.socket.end(`PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\nquestion ${i}`);
    await client.ended;
    assert.equal(client.received(), `got question ${i} and your FIN`);
  }
});
