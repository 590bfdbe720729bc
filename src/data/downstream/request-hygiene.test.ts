import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { proxyErrors } from '../../core/errors.js';
import { hygieneProblem } from './request-hygiene.js';

const strict = { allowUnderscoreHeaders: false };

interface Shape {
  method?: string;
  url?: string;
  version?: '1.0' | '1.1' | '2.0';
  headers?: readonly string[];
}

/** A synthetic request as Node's parser would hand it over (only what the checks read). */
function request({ method = 'GET', url = '/', version = '1.1', headers = ['Host', 'x'] }: Shape): IncomingMessage {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return { method, url, httpVersionMajor: major, httpVersionMinor: minor, rawHeaders: [...headers] } as IncomingMessage;
}

function detail(shape: Shape, options = strict): string | undefined {
  const problem = hygieneProblem(request(shape), options);
  if (problem !== undefined) assert.equal(problem.error, proxyErrors.badRequest);
  return problem?.detail;
}

test('a clean request passes, whatever the case of the names', () => {
  assert.equal(detail({}), undefined);
  assert.equal(
    detail({
      method: 'POST',
      url: '/a/b?c=d&e=%20f',
      headers: ['HOST', 'api.example.com:8080', 'content-LENGTH', '12', 'X-Forwarded-For', '1.2.3.4', 'Accept', '*/*'],
    }),
    undefined,
  );
  assert.equal(detail({ headers: ['host', 'x', 'Transfer-Encoding', 'CHUNKED'] }), undefined, 'codings ignore case');
  assert.equal(detail({ headers: ['Host', '[::1]:8080'] }), undefined, 'an IP literal');
  assert.equal(detail({ headers: ['Host', ''] }), undefined, 'an empty Host (RFC 9112 §3.2)');
  assert.equal(detail({ headers: ['Host', 'x', 'X-Tab', 'a\tb', 'X-Obs', 'caf\u00e9'] }), undefined, 'HTAB, obs-text');
  assert.equal(detail({ version: '1.0', headers: [] }), undefined, 'HTTP/1.0 needs no Host');
  assert.equal(detail({ method: 'OPTIONS', url: '*' }), undefined);
  assert.equal(detail({ url: 'http://x/a?b' }), undefined, 'absolute form without userinfo');
  assert.equal(detail({ url: 'http://x/a@b' }), undefined, 'an @ in the path is no userinfo');
  assert.equal(detail({ headers: ['Host', 'x', 'Upgrade', 'websocket'] }), undefined);
});

test('header names with "_" are refused unless the listener allows them', () => {
  const shape = { headers: ['Host', 'x', 'X_Forwarded_For', '6.6.6.6'] };
  assert.match(detail(shape) ?? '', /"_"/);
  assert.equal(detail(shape, { allowUnderscoreHeaders: true }), undefined);
  assert.match(detail({ headers: ['Host', 'x', '_', 'v'] }) ?? '', /"_"/);
});

test('names that are no tokens are refused', () => {
  for (const name of ['', 'X A', 'X:A', 'X\u0000A', 'X\u00e9', 'X(A)', 'X"A', 'X/A']) {
    assert.match(detail({ headers: ['Host', 'x', name, 'v'] }) ?? '', /not a valid token/, JSON.stringify(name));
  }
});

test('control characters in values are refused (HTAB and obs-text are fine)', () => {
  for (const value of ['a\u0000b', 'a\rb', 'a\nb', 'a\u0001', '\u001b[31m', 'a\u007fb']) {
    assert.match(detail({ headers: ['Host', 'x', 'X-A', value] }) ?? '', /control character/, JSON.stringify(value));
  }
});

test('Upgrade: h2c is refused on HTTP/1.1; a lone HTTP2-Settings is left to be stripped', () => {
  for (const value of ['h2c', 'H2C', 'websocket, h2c', ' h2c/1 ']) {
    assert.match(detail({ headers: ['Host', 'x', 'Upgrade', value] }) ?? '', /h2c/, value);
  }
  const settings = ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA'];
  assert.match(
    detail({ headers: ['Host', 'x', 'Connection', 'Upgrade, HTTP2-Settings', 'Upgrade', 'h2c', ...settings] }) ?? '',
    /h2c/,
  );
  assert.equal(detail({ headers: ['Host', 'x', ...settings] }), undefined, 'alone, it is only stripped (hop-by-hop)');
  assert.equal(detail({ headers: ['Host', 'x', 'Upgrade', 'h2cx'] }), undefined);
});

test('Transfer-Encoding must be exactly chunked, once, without Content-Length, and not on HTTP/1.0', () => {
  for (const value of ['chunked, identity', 'gzip, chunked', 'identity', '', 'chunked;q=1', 'xchunked', 'chunke']) {
    const got = detail({ method: 'POST', headers: ['Host', 'x', 'Transfer-Encoding', value] });
    assert.match(got ?? '', /only transfer coding/, JSON.stringify(value));
  }
  assert.match(
    detail({
      method: 'POST',
      headers: ['Host', 'x', 'Transfer-Encoding', 'chunked', 'transfer-encoding', 'chunked'],
    }) ?? '',
    /more than one Transfer-Encoding/,
  );
  assert.match(
    detail({ method: 'POST', headers: ['Host', 'x', 'Content-Length', '3', 'Transfer-Encoding', 'chunked'] }) ?? '',
    /together/,
  );
  assert.match(
    detail({ method: 'POST', headers: ['Host', 'x', 'Transfer-Encoding', 'chunked', 'Content-Length', '0'] }) ?? '',
    /together/,
  );
  assert.match(
    detail({ method: 'POST', version: '1.0', headers: ['Transfer-Encoding', 'chunked'] }) ?? '',
    /HTTP\/1\.0/,
  );
});

test('Content-Length must be one plain decimal number', () => {
  for (const value of ['+5', '-1', ' 5', '5 ', '5, 5', '0x5', '5.0', '', '1e3', '1234567890123456']) {
    const got = detail({ method: 'POST', headers: ['Host', 'x', 'Content-Length', value] });
    assert.match(got ?? '', /plain decimal/, JSON.stringify(value));
  }
  assert.equal(detail({ method: 'POST', headers: ['Host', 'x', 'Content-Length', '123456789012345'] }), undefined);
  assert.match(
    detail({ method: 'POST', headers: ['Host', 'x', 'Content-Length', '5', 'content-length', '5'] }) ?? '',
    /more than one Content-Length/,
    'even when equal',
  );
});

test('Host must be one authority, and present on HTTP/1.1', () => {
  for (const value of ['a b', 'user@x', 'x/evil', 'x?y', 'x#y', 'x\\y', '"x"', 'caf\u00e9.test']) {
    assert.match(detail({ headers: ['Host', value] }) ?? '', /not a valid authority/, JSON.stringify(value));
  }
  assert.match(detail({ headers: ['Host', 'a', 'host', 'a'] }) ?? '', /more than one Host/);
  assert.match(detail({ headers: ['X-A', 'b'] }) ?? '', /needs a Host/);
});

test('the request target: no fragment, no raw space or control byte, no userinfo in absolute form', () => {
  assert.match(detail({ url: '/a#b' }) ?? '', /fragment/);
  assert.match(detail({ url: 'http://x/#' }) ?? '', /fragment/);
  for (const url of ['/a b', '/a\u0000', '/a\tb', '/a\u007f', '/caf\u00e9', '']) {
    assert.match(detail({ url }) ?? '', /control character|non-ASCII/, JSON.stringify(url));
  }
  for (const url of ['http://user:pw@x/a', 'http://x@y', 'https://good.test@evil.test/', 'http://a\\b@x/']) {
    assert.match(detail({ url }) ?? '', /userinfo/, url);
  }
});

test('a method that is no token, and versions other than 1.x, are refused', () => {
  assert.match(detail({ method: 'G@T' }) ?? '', /method/);
  assert.match(detail({ method: '' }) ?? '', /method/);
  assert.match(detail({ version: '2.0' }) ?? '', /HTTP\/1\.0 and HTTP\/1\.1/);
});

test('an HTTP/2 request (it has a stream) is framed by nghttp2: only the underscore rule applies to it', () => {
  const h2 = (headers: string[]) =>
    Object.assign(request({ version: '2.0', headers: [':method', 'GET', ':path', '/', ...headers] }), { stream: {} });
  assert.equal(hygieneProblem(h2(['x-y', '1']), strict), undefined);
  assert.match(hygieneProblem(h2(['x_y', '1']), strict)?.detail ?? '', /"_"/);
  assert.equal(hygieneProblem(h2(['x_y', '1']), { allowUnderscoreHeaders: true }), undefined);
});

test('the first problem wins and the answer is the same object every time (nothing allocated)', () => {
  const shape = { headers: ['Host', 'x', 'X_A', '1', 'Upgrade', 'h2c'] };
  const a = hygieneProblem(request(shape), strict);
  assert.equal(a, hygieneProblem(request(shape), strict));
  assert.match(a?.detail ?? '', /"_"/);
});
