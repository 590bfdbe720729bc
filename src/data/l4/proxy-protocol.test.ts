import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeProxyHeader,
  maxProxyV1Bytes,
  maxProxyV2PayloadBytes,
  readProxyHeader,
  type ProxyHeaderResult,
} from './proxy-protocol.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const signature = '0d0a0d0a 000d0a51 5549540a';
const payload = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');

function assertInvalid(result: ProxyHeaderResult, pattern?: RegExp): void {
  assert.equal(result.kind, 'invalid', JSON.stringify(result));
  if (pattern !== undefined && result.kind === 'invalid') assert.match(result.reason, pattern);
}

/** Every strict prefix of `header` is incomplete, and header + payload yields `expected` with length = header. */
function assertIncremental(header: Buffer, expected: ProxyHeaderResult): void {
  for (let end = 0; end < header.length; end++) {
    assert.deepEqual(readProxyHeader(header.subarray(0, end)), { kind: 'incomplete' }, `prefix of ${end} bytes`);
  }
  assert.deepEqual(readProxyHeader(Buffer.concat([header, payload])), expected);
}

test('the v1 example line of the spec is read, and the request after it is left alone', () => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  const result = readProxyHeader(Buffer.concat([Buffer.from(line), payload]));
  assert.deepEqual(result, {
    kind: 'header',
    version: 1,
    command: 'proxy',
    source: { address: '192.168.0.1', port: 56324 },
    destination: { address: '192.168.0.11', port: 443 },
    length: line.length,
  });
});

test('v1 TCP6 at the longest form is read and its addresses come back in RFC 5952 form', () => {
  const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const longest = `PROXY TCP6 ${full} ${full} 65535 65535\r\n`;
  assert.equal(longest.length, 104);
  const result = readProxyHeader(Buffer.from(longest));
  assert.deepEqual(result.kind === 'header' && result.source, { address: full, port: 65535 });
  const padded = readProxyHeader(Buffer.from('PROXY TCP6 2001:0DB8:0:0:0:0:0:0001 ::FFFF:10.0.0.1 0 65535\r\n'));
  assert.deepEqual(padded.kind === 'header' && [padded.source, padded.destination], [
    { address: '2001:db8::1', port: 0 },
    { address: '::ffff:10.0.0.1', port: 65535 },
  ]);
});

test('v1 UNKNOWN is a local connection without addresses, short form and the 107-byte worst case alike', () => {
  assert.deepEqual(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), {
    kind: 'header',
    version: 1,
    command: 'local',
    length: 15,
  });
  const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
  const worst = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
  assert.equal(worst.length, maxProxyV1Bytes);
  assert.deepEqual(readProxyHeader(Buffer.from(worst)), { kind: 'header', version: 1, command: 'local', length: 107 });
});

test('a v1 line without CRLF in its first 107 bytes is invalid at the 107th byte, not before', () => {
  const long = Buffer.from(`PROXY UNKNOWN ${'f'.repeat(200)}\r\n`);
  assert.equal(readProxyHeader(long.subarray(0, maxProxyV1Bytes - 1)).kind, 'incomplete');
  assertInvalid(readProxyHeader(long.subarray(0, maxProxyV1Bytes)), /no CRLF in the first 107 bytes/);
  const crAtTheEdge = Buffer.from(`PROXY UNKNOWN ${'f'.repeat(maxProxyV1Bytes - 15)}\r\n`);
  assert.equal(crAtTheEdge.length, maxProxyV1Bytes + 1);
  assertInvalid(readProxyHeader(crAtTheEdge), /no CRLF/);
});

test('v1 lines that do not match the spec exactly are invalid', () => {
  const lines = [
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n', // bare LF
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rx', // CR without LF
    'PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n', // two spaces
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n', // a port missing
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n', // a field too many
    'PROXY TCP4 192.168.00.1 192.168.0.11 56324 443\r\n', // heading zero in an octet
    'PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n',
    'PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n', // heading zero in a port
    'PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n',
    'PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n', // family mismatch
    'PROXY TCP6 192.168.0.1 2001:db8::2 56324 443\r\n',
    'PROXY TCP6 2001:db8::1::2 2001:db8::2 56324 443\r\n',
    'PROXY TCP6 1:2:3:4:5:6:7:8:9 2001:db8::2 56324 443\r\n',
    'PROXY TCP6 1:2:3:4::5:6:7:8 2001:db8::2 56324 443\r\n', // `::` for no group at all
    'PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n',
    'PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n',
    'PROXY UNKNOWNX\r\n',
    'PROXY \r\n',
  ];
  for (const line of lines) assertInvalid(readProxyHeader(Buffer.from(line)), undefined);
});

test('garbage is invalid as soon as its first bytes cannot start a header', () => {
  assertInvalid(readProxyHeader(Buffer.from('G')), /neither/);
  assertInvalid(readProxyHeader(Buffer.from('PO')), /not a PROXY v1 line/);
  assertInvalid(readProxyHeader(Buffer.from('PROXYX')), /not a PROXY v1 line/);
  assertInvalid(readProxyHeader(Buffer.from('PROXY HTTP')), /TCP4, TCP6 or UNKNOWN/);
  assertInvalid(readProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 hello')), /TCP4, TCP6 or UNKNOWN/);
  assertInvalid(readProxyHeader(Buffer.from('\r\n\r\nG')), /not a PROXY v2 signature/);
  assertInvalid(readProxyHeader(Buffer.from([0x16, 0x03, 0x01])), /neither/); // a TLS ClientHello
  assertInvalid(readProxyHeader(hex(`${signature} 11`)), /version 1 is not 2/);
  assertInvalid(readProxyHeader(hex(`${signature} 22`)), /command 2/);
  assertInvalid(readProxyHeader(hex(`${signature} 21 13`)), /family\/transport 0x13/);
  assertInvalid(readProxyHeader(hex(`${signature} 21 41`)), /family\/transport 0x41/);
  assertInvalid(readProxyHeader(hex(`${signature} 21 11 000b`)), /shorter than its address block/);
  assertInvalid(readProxyHeader(hex(`${signature} 21 21 0023`)), /shorter than its address block/);
  assert.equal(readProxyHeader(Buffer.alloc(0)).kind, 'incomplete');
  assert.equal(readProxyHeader(Buffer.from('PROXY TCP4 1.2.')).kind, 'incomplete');
});

test('v2 vectors written from the spec: TCP over IPv4 and over IPv6, UDP over IPv4', () => {
  const tcp4 = hex(`${signature} 21 11 000c  c0a80001 c0a8000b  dc04 01bb`);
  assert.deepEqual(readProxyHeader(Buffer.concat([tcp4, payload])), {
    kind: 'header',
    version: 2,
    command: 'proxy',
    source: { address: '192.168.0.1', port: 56324 },
    destination: { address: '192.168.0.11', port: 443 },
    length: 28,
  });
  const tcp6 = hex(`${signature} 21 21 0024
    20010db8 00000000 00000000 00000001  20010db8 00000000 00000000 00000002  04d2 0050`);
  assert.deepEqual(readProxyHeader(tcp6), {
    kind: 'header',
    version: 2,
    command: 'proxy',
    source: { address: '2001:db8::1', port: 1234 },
    destination: { address: '2001:db8::2', port: 80 },
    length: 52,
  });
  const udp4 = hex(`${signature} 21 12 000c  0a000001 0a000002  1f90 0035`);
  const udp = readProxyHeader(udp4);
  assert.deepEqual(udp.kind === 'header' && [udp.source, udp.destination], [
    { address: '10.0.0.1', port: 8080 },
    { address: '10.0.0.2', port: 53 },
  ]);
});

test('v2 LOCAL has no addresses (even with an address block), nor has PROXY over AF_UNSPEC or AF_UNIX', () => {
  assert.deepEqual(readProxyHeader(hex(`${signature} 20 00 0000`)), {
    kind: 'header',
    version: 2,
    command: 'local',
    length: 16,
  });
  assert.deepEqual(readProxyHeader(hex(`${signature} 20 11 000c  7f000001 7f000001 0001 0002`)), {
    kind: 'header',
    version: 2,
    command: 'local',
    length: 28,
  });
  assert.deepEqual(readProxyHeader(hex(`${signature} 21 00 0000`)), {
    kind: 'header',
    version: 2,
    command: 'proxy',
    length: 16,
  });
  const unix = Buffer.concat([hex(`${signature} 21 31 00d8`), Buffer.alloc(216, 0x61)]);
  assert.deepEqual(readProxyHeader(unix), { kind: 'header', version: 2, command: 'proxy', length: 232 });
});

test('v2 TLVs after the addresses are skipped: length covers them and the stream data follows', () => {
  // PP2_TYPE_ALPN "h2", then PP2_TYPE_NOOP with three bytes of padding.
  const header = hex(`${signature} 21 11 0017  c0a80001 c0a8000b dc04 01bb  01 0002 6832  04 0003 000000`);
  const result = readProxyHeader(Buffer.concat([header, payload]));
  assert.equal(result.kind === 'header' && result.length, header.length);
  assert.deepEqual(result.kind === 'header' && result.source, { address: '192.168.0.1', port: 56324 });
});

test(`a v2 header is accepted up to ${maxProxyV2PayloadBytes} bytes after the fixed part and invalid beyond`, () => {
  const fixed = (length: number): Buffer =>
    Buffer.concat([hex(`${signature} 21 11`), Buffer.from([length >> 8, length & 0xff])]);
  const atCap = Buffer.concat([
    fixed(maxProxyV2PayloadBytes),
    hex('c0a80001 c0a8000b dc04 01bb'),
    Buffer.from([0x04, (maxProxyV2PayloadBytes - 15) >> 8, (maxProxyV2PayloadBytes - 15) & 0xff]),
    Buffer.alloc(maxProxyV2PayloadBytes - 15),
  ]);
  assert.equal(readProxyHeader(atCap.subarray(0, atCap.length - 1)).kind, 'incomplete');
  assert.equal(readProxyHeader(atCap).kind, 'header');
  assertInvalid(readProxyHeader(fixed(maxProxyV2PayloadBytes + 1)), /exceeds the 4096-byte cap/);
  assertInvalid(readProxyHeader(fixed(65535)), /exceeds/);
});

test('headers fed one byte at a time stay incomplete until their last byte', () => {
  const cases: [Buffer, ProxyHeaderResult][] = [
    [
      Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
      {
        kind: 'header',
        version: 1,
        command: 'proxy',
        source: { address: '192.168.0.1', port: 56324 },
        destination: { address: '192.168.0.11', port: 443 },
        length: 47,
      },
    ],
    [Buffer.from('PROXY UNKNOWN\r\n'), { kind: 'header', version: 1, command: 'local', length: 15 }],
    [hex(`${signature} 20 00 0000`), { kind: 'header', version: 2, command: 'local', length: 16 }],
  ];
  for (const [header, expected] of cases) assertIncremental(header, expected);
  const v6 = encodeProxyHeader(2, { address: '2001:db8::1', port: 1 }, { address: '2001:db8::2', port: 2 });
  assertIncremental(v6, {
    kind: 'header',
    version: 2,
    command: 'proxy',
    source: { address: '2001:db8::1', port: 1 },
    destination: { address: '2001:db8::2', port: 2 },
    length: 52,
  });
});

test('encoding writes the spec layout: the v1 example line and the v2 vector byte for byte', () => {
  const source = { address: '192.168.0.1', port: 56324 };
  const destination = { address: '192.168.0.11', port: 443 };
  assert.equal(
    encodeProxyHeader(1, source, destination).toString('latin1'),
    'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
  );
  assert.deepEqual(
    encodeProxyHeader(2, source, destination),
    hex(`${signature} 21 11 000c c0a80001 c0a8000b dc04 01bb`),
  );
  assert.deepEqual(
    encodeProxyHeader(2, source, destination, 'udp'),
    hex(`${signature} 21 12 000c c0a80001 c0a8000b dc04 01bb`),
  );
});

test('encode then read returns the same ends for v1 and v2, IPv4 and IPv6', () => {
  const pairs: [string, string][] = [
    ['10.1.2.3', '10.9.8.7'],
    ['0.0.0.0', '255.255.255.255'],
    ['2001:db8::1', 'fe80::abcd'],
    ['::', '::1'],
    ['1::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8::1:0:0:1'],
  ];
  for (const version of [1, 2] as const) {
    for (const [from, to] of pairs) {
      const header = encodeProxyHeader(version, { address: from, port: 40000 }, { address: to, port: 0 });
      assert.deepEqual(readProxyHeader(Buffer.concat([header, payload])), {
        kind: 'header',
        version,
        command: 'proxy',
        source: { address: from, port: 40000 },
        destination: { address: to, port: 0 },
        length: header.length,
      });
    }
  }
});

test('IPv4-mapped ends become IPv4; with one IPv6 end the IPv4 one is mapped into IPv6', () => {
  const mapped = encodeProxyHeader(1, { address: '::ffff:10.0.0.1', port: 1 }, { address: '::FFFF:10.0.0.2', port: 2 });
  assert.equal(mapped.toString('latin1'), 'PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
  const mappedV2 = encodeProxyHeader(2, { address: '::ffff:10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 });
  assert.equal(mappedV2[13], 0x11);
  assert.equal(mappedV2.length, 28);
  for (const version of [1, 2] as const) {
    const mixed = readProxyHeader(
      encodeProxyHeader(version, { address: '10.0.0.1', port: 1 }, { address: '2001:db8::2', port: 2 }),
    );
    assert.deepEqual(mixed.kind === 'header' && [mixed.source, mixed.destination], [
      { address: '::ffff:10.0.0.1', port: 1 },
      { address: '2001:db8::2', port: 2 },
    ]);
  }
  const zoned = readProxyHeader(
    encodeProxyHeader(2, { address: 'fe80::1%eth0', port: 1 }, { address: '::1', port: 2 }),
  );
  assert.deepEqual(zoned.kind === 'header' && zoned.source, { address: 'fe80::1', port: 1 });
});

test('IPv6 addresses read from v2 are written the way the WHATWG URL parser writes them (RFC 5952)', () => {
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 500; i++) {
    // Mostly zero groups, so runs of zeros of every length and position come up.
    const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? next() % 0x10000 : 0));
    if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) groups[5] = 1; // mapped: own form
    const bytes = Buffer.alloc(16);
    groups.forEach((group, index) => bytes.writeUInt16BE(group, 2 * index));
    const result = readProxyHeader(Buffer.concat([hex(`${signature} 21 21 0024`), bytes, bytes, hex('0001 0002')]));
    const expected = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
    assert.equal(result.kind === 'header' && result.source?.address, expected, groups.join(','));
  }
});

test('encoding refuses what a socket never reports: a non-address, a bad port, UDP over v1', () => {
  const ok = { address: '10.0.0.1', port: 1 };
  assert.throws(() => encodeProxyHeader(1, { address: 'example.com', port: 1 }, ok), TypeError);
  assert.throws(() => encodeProxyHeader(2, ok, { address: '10.0.0.01', port: 1 }), TypeError);
  assert.throws(() => encodeProxyHeader(2, ok, { address: '10.0.0.2', port: 65536 }), RangeError);
  assert.throws(() => encodeProxyHeader(2, ok, { address: '10.0.0.2', port: 1.5 }), RangeError);
  assert.throws(() => encodeProxyHeader(1, ok, ok, 'udp'), /v1 carries TCP only/);
});

test('no corruption or truncation of a valid header makes the reader throw or claim bytes it was not given', () => {
  const headers = [
    encodeProxyHeader(1, { address: '2001:db8::1', port: 65535 }, { address: '2001:db8::2', port: 1 }),
    encodeProxyHeader(2, { address: '2001:db8::1', port: 65535 }, { address: '2001:db8::2', port: 1 }),
    hex(`${signature} 21 11 0017  c0a80001 c0a8000b dc04 01bb  01 0002 6832  04 0003 000000`),
  ];
  for (const header of headers) {
    for (let i = 0; i < header.length; i++) {
      for (const value of [0x00, 0xff, 0x0a, 0x0d, 0x20, header[i]! ^ 0x01]) {
        const copy = Buffer.from(header);
        copy[i] = value;
        const result = readProxyHeader(copy);
        assert.ok(['incomplete', 'invalid', 'header'].includes(result.kind));
        if (result.kind === 'header') assert.ok(result.length <= copy.length);
      }
    }
  }
});
