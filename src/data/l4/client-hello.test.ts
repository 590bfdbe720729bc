import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect, type ConnectionOptions } from 'node:tls';
import {
  maxClientHelloBytes,
  maxClientHelloRecords,
  maxClientHelloWireBytes,
  readClientHello,
  type ClientHelloResult,
} from './client-hello.js';

/** Lets Node's TLS client open a connection to a plain TCP server and returns the first TLS record it sends. */
async function captureClientHello(t: TestContext, options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  t.after(() => server.close());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const captured = new Promise<Buffer>((resolve, reject) => {
    server.on('connection', (socket) => {
      socket.on('error', reject);
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        // Framing done by hand, independent of the code under test: one record is header + its length.
        if (received.length >= 5 && received.length >= 5 + received.readUInt16BE(3)) {
          resolve(received.subarray(0, 5 + received.readUInt16BE(3)));
          socket.destroy();
        }
      });
    });
  });
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...options });
  client.on('error', () => {}); // the server hangs up mid-handshake on purpose
  t.after(() => client.destroy());
  return captured;
}

const u16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
const u24 = (value: number): Buffer => Buffer.from([value >> 16, (value >> 8) & 0xff, value & 0xff]);
const vector16 = (...parts: Buffer[]): Buffer => Buffer.concat([u16(Buffer.concat(parts).length), ...parts]);
const extension = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), vector16(data)]);
const sniExtension = (name: string | Buffer): Buffer =>
  extension(0, vector16(Buffer.from([0]), vector16(Buffer.from(name))));
const alpnExtension = (names: string[]): Buffer =>
  extension(16, vector16(...names.map((name) => Buffer.concat([Buffer.from([name.length]), Buffer.from(name)]))));
const paddingExtension = (length: number): Buffer => extension(21, Buffer.alloc(length));

/** A minimal TLS 1.2-style ClientHello body: one cipher suite, null compression, then the extensions if any. */
function helloBody(extensions?: Buffer[]): Buffer {
  const fixed = Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    vector16(u16(0x1301)),
    Buffer.from([1, 0]),
  ]);
  return extensions === undefined ? fixed : Buffer.concat([fixed, vector16(...extensions)]);
}

const handshake = (body: Buffer): Buffer => Buffer.concat([Buffer.from([1]), u24(body.length), body]);

/** Frames a handshake message into TLS records, cutting at the given offsets of the message. */
function records(message: Buffer, cuts: number[] = []): Buffer {
  const bounds = [0, ...cuts, message.length];
  const framed: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const fragment = message.subarray(bounds[i], bounds[i + 1]);
    framed.push(Buffer.from([22, 3, 1]), u16(fragment.length), fragment);
  }
  return Buffer.concat(framed);
}

/** The handshake message inside a captured single-record hello. */
const messageOf = (record: Buffer): Buffer => record.subarray(5);

const synthetic = (extensions?: Buffer[]): Buffer => records(handshake(helloBody(extensions)));

function assertInvalid(result: ClientHelloResult, pattern?: RegExp): void {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  if (pattern !== undefined && result.kind === 'invalid') assert.match(result.reason, pattern);
}

test('a real ClientHello with SNI and ALPN gives the lower-cased server name and the protocols in order', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'API.Example.com', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(readClientHello(bytes), {
    kind: 'hello',
    serverName: 'api.example.com',
    alpn: ['h2', 'http/1.1'],
    length: bytes.length,
  });
});

test('a real ClientHello without SNI or ALPN has no server name and an empty protocol list', async (t) => {
  const bytes = await captureClientHello(t, {});
  assert.deepEqual(readClientHello(bytes), { kind: 'hello', alpn: [], length: bytes.length });
});

test('fed one byte at a time, every prefix is incomplete and the whole is the hello', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'shop.example', ALPNProtocols: ['http/1.1'] });
  for (let end = 0; end < bytes.length; end++) {
    assert.deepEqual(readClientHello(bytes.subarray(0, end)), { kind: 'incomplete' }, `prefix of ${end} bytes`);
  }
  assert.equal(readClientHello(bytes).kind, 'hello');
});

test('bytes after the hello are left to the caller: length counts only the records of the hello', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'shop.example' });
  const more = Buffer.concat([bytes, Buffer.from([23, 3, 3, 0, 2, 0xaa, 0xbb]), Buffer.from('trailing')]);
  const result = readClientHello(more);
  assert.equal(result.kind, 'hello');
  assert.equal(result.kind === 'hello' && result.length, bytes.length);
});

test('a ClientHello split across two TLS records reads the same wherever the split falls', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'split.example', ALPNProtocols: ['h2'] });
  const message = messageOf(bytes);
  for (const cut of [1, 2, 3, 4, 5, 40, Math.floor(message.length / 2), message.length - 1]) {
    const framed = records(message, [cut]);
    assert.deepEqual(
      readClientHello(framed),
      { kind: 'hello', serverName: 'split.example', alpn: ['h2'], length: framed.length },
      `cut at ${cut}`,
    );
  }
});

test('a two-record ClientHello arriving byte by byte stays incomplete until its last byte', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'split.example' });
  const framed = records(messageOf(bytes), [3]);
  for (let end = 0; end < framed.length; end++) {
    assert.equal(readClientHello(framed.subarray(0, end)).kind, 'incomplete', `prefix of ${end} bytes`);
  }
  assert.equal(readClientHello(framed).kind, 'hello');
});

test(`a ClientHello in ${maxClientHelloRecords} records is read, one more record is invalid`, async (t) => {
  const message = messageOf(await captureClientHello(t, { servername: 'many.example' }));
  const cuts = (count: number): number[] => Array.from({ length: count - 1 }, (_, i) => i + 1);
  const atCap = records(message, cuts(maxClientHelloRecords));
  assert.equal(readClientHello(atCap).kind, 'hello');
  assertInvalid(readClientHello(records(message, cuts(maxClientHelloRecords + 1))), /more than 32 records/);
});

test('a plain HTTP request is invalid from its first byte on', () => {
  assertInvalid(readClientHello(Buffer.from('G')), /not a TLS handshake record/);
  assertInvalid(readClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')));
});

test('an SSLv2-style hello, another record type or a non-TLS version is invalid without waiting', () => {
  assertInvalid(readClientHello(Buffer.from([0x80])), /SSLv2/);
  assertInvalid(readClientHello(Buffer.from([21])), /content type 21/); // alert
  assertInvalid(readClientHello(Buffer.from([22, 2])), /major 2/);
  assertInvalid(readClientHello(Buffer.from([22, 3, 1, 0, 0])), /record length 0/);
  assertInvalid(readClientHello(Buffer.from([22, 3, 1, 0x40, 0x01])), /record length 16385/);
  assert.equal(readClientHello(Buffer.alloc(0)).kind, 'incomplete');
  assert.equal(readClientHello(Buffer.from([22, 3, 1, 0])).kind, 'incomplete');
});

test('a handshake message other than ClientHello is invalid as soon as its type arrives', () => {
  assertInvalid(readClientHello(Buffer.from([22, 3, 3, 0, 80, 2])), /type 2/);
});

test('an oversized hello is invalid as soon as its length arrives; one at the cap is read', () => {
  assertInvalid(
    readClientHello(Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0x00, 1]), u24(maxClientHelloBytes + 1)])),
    /exceeds the 16384-byte cap/,
  );
  // A body of exactly the cap (padding extension fills it) needs at least two records; at the record cap it takes
  // exactly the documented wire bound.
  const fill = maxClientHelloBytes - helloBody([]).length - 4;
  const message = handshake(helloBody([paddingExtension(fill)]));
  assert.equal(message.length, 4 + maxClientHelloBytes);
  const twoRecords = records(message, [16384]);
  assert.deepEqual(readClientHello(twoRecords), { kind: 'hello', alpn: [], length: twoRecords.length });
  const step = Math.ceil(message.length / maxClientHelloRecords);
  const cuts = Array.from({ length: maxClientHelloRecords - 1 }, (_, i) => (i + 1) * step);
  const manyRecords = records(message, cuts);
  assert.equal(manyRecords.length, maxClientHelloWireBytes);
  assert.deepEqual(readClientHello(manyRecords), { kind: 'hello', alpn: [], length: maxClientHelloWireBytes });
});

test('a hello without any extensions is read (SSL 3.0-style clients)', () => {
  const bytes = synthetic();
  assert.deepEqual(readClientHello(bytes), { kind: 'hello', alpn: [], length: bytes.length });
});

test('truncated or inconsistent length fields are invalid and never throw', () => {
  const body = helloBody([sniExtension('a.example'), alpnExtension(['h2'])]);
  // Handshake length shorter than the body its record carries: bytes left over inside the record.
  assertInvalid(readClientHello(records(Buffer.concat([Buffer.from([1]), u24(body.length - 1), body]))), /more/);
  // Handshake length longer than the body: the record ends, and the next "record" is garbage.
  const longer = records(Buffer.concat([Buffer.from([1]), u24(body.length + 1), body]));
  assert.equal(readClientHello(longer).kind, 'incomplete');
  assertInvalid(readClientHello(Buffer.concat([longer, Buffer.from('x')])));

  const corrupt = (offset: number, value: number): ClientHelloResult => {
    const copy = Buffer.from(body);
    copy[offset] = value;
    return readClientHello(records(handshake(copy)));
  };
  const fixedBytes = helloBody([]).length - 2; // the fixed fields, without the extensions length
  assertInvalid(corrupt(34, 33), /session_id/); // session id longer than 32
  assertInvalid(corrupt(36, 3), /cipher_suites/); // odd cipher_suites length
  assertInvalid(corrupt(fixedBytes + 1, body[fixedBytes + 1]! + 1), /extensions length/);
  assertInvalid(corrupt(fixedBytes + 1, body[fixedBytes + 1]! - 1), /extensions length/);
  const sni = fixedBytes + 2; // type(2) length(2) list length(2) name type(1) name length(2)
  assertInvalid(corrupt(sni + 3, body[sni + 3]! + 1), /server_name list/);
  assertInvalid(corrupt(sni + 5, body[sni + 5]! - 1), /server_name list/);
  assertInvalid(corrupt(sni + 6, 1), /exactly one host_name/);
  assertInvalid(corrupt(sni + 8, body[sni + 8]! + 1), /exactly one host_name/);
  const alpn = sni + sniExtension('a.example').length;
  assertInvalid(corrupt(alpn + 3, body[alpn + 3]! + 1), /overruns/);
  assertInvalid(corrupt(alpn + 5, body[alpn + 5]! + 1), /ALPN protocol list/);
  assertInvalid(corrupt(alpn + 6, 0), /ALPN protocol name/);
  assertInvalid(corrupt(alpn + 6, 3), /ALPN protocol name/);
});

test('server names are lower-cased and refused with control characters, empty labels or a trailing dot', () => {
  const nameOf = (name: string | Buffer): ClientHelloResult => readClientHello(synthetic([sniExtension(name)]));
  assert.equal((nameOf('WWW.Example.ORG') as { serverName?: string }).serverName, 'www.example.org');
  assert.equal((nameOf('my_host-1.internal') as { serverName?: string }).serverName, 'my_host-1.internal');
  assertInvalid(nameOf('evil\r\n.example'), /byte 0x0d/);
  assertInvalid(nameOf(Buffer.from([0x61, 0x00, 0x62])), /byte 0x00/);
  assertInvalid(nameOf('caf\u00e9.example'), /byte 0xc3/);
  assertInvalid(nameOf('example.com.'), /label/);
  assertInvalid(nameOf('a..example'), /label/);
  assertInvalid(nameOf(`${'a'.repeat(64)}.example`), /label/);
  assertInvalid(nameOf(''), /server_name/);
});

test('ALPN names keep their bytes and order, GREASE values included', () => {
  const result = readClientHello(synthetic([alpnExtension(['\u000a\u000a', 'h2', 'http/1.1'])]));
  assert.deepEqual(result.kind === 'hello' && result.alpn, ['\n\n', 'h2', 'http/1.1']);
});

test('an extension sent twice is invalid', () => {
  assertInvalid(readClientHello(synthetic([sniExtension('a.example'), sniExtension('b.example')])), /twice/);
});

test('no corruption or truncation of a real hello makes the reader throw or claim bytes it was not given', async (t) => {
  const bytes = await captureClientHello(t, { servername: 'fuzz.example', ALPNProtocols: ['h2', 'http/1.1'] });
  for (let i = 0; i < bytes.length; i++) {
    for (const value of [0x00, 0xff, bytes[i]! ^ 0x01, (bytes[i]! + 1) & 0xff]) {
      const copy = Buffer.from(bytes);
      copy[i] = value;
      const result = readClientHello(copy);
      assert.ok(['incomplete', 'invalid', 'hello'].includes(result.kind));
      if (result.kind === 'hello') assert.ok(result.length <= copy.length);
    }
    const truncated = readClientHello(bytes.subarray(0, i));
    assert.equal(truncated.kind, 'incomplete');
  }
});
