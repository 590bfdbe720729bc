import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalisePath } from '../../core/request-path.js';

const path = (raw: string): string => {
  const result = normalisePath(raw);
  return result.ok ? result.path : `rejected: ${result.reason}`;
};

test('dot segments are resolved and never climb above the root', () => {
  assert.equal(path('/a/../admin'), '/admin');
  assert.equal(path('/a/b/../../admin'), '/admin');
  assert.equal(path('/../../admin'), '/admin');
  assert.equal(path('/./admin'), '/admin');
  assert.equal(path('/a/b/..'), '/a/', 'a trailing dot segment leaves a trailing slash (RFC 3986 §5.2.4)');
  assert.equal(path('/admin/.'), '/admin/');
  assert.equal(path('/..'), '/');
});

test('encoded dots are decoded before dot segments are resolved', () => {
  assert.equal(path('/%2e%2e/admin'), '/admin');
  assert.equal(path('/%2E%2E/admin'), '/admin');
  assert.equal(path('/.%2e/admin'), '/admin');
  assert.equal(path('/a/%2e/b'), '/a/b');
  assert.equal(path('/%2e%2e%2e/x'), '/.../x', 'three dots are an ordinary segment');
});

test('duplicate slashes are merged; a trailing slash is kept', () => {
  assert.equal(path('//admin'), '/admin');
  assert.equal(path('/a//b///c'), '/a/b/c');
  assert.equal(path('/a//'), '/a/');
  assert.equal(path('//'), '/');
});

test('escapes of unreserved characters are decoded, others are kept with upper-case hex', () => {
  assert.equal(path('/%61dmin'), '/admin');
  assert.equal(path('/%7Euser/%2D%5F'), '/~user/-_');
  assert.equal(path('/caf%c3%a9'), '/caf%C3%A9');
  assert.equal(path('/a%20b'), '/a%20b');
  assert.equal(path('/a%3bb'), '/a%3Bb', 'an encoded ";" is data, not a parameter separator');
});

test('characters not allowed raw in a path are percent-encoded', () => {
  assert.equal(path('/a"b'), '/a%22b');
  assert.equal(path('/{x}|^`'), '/%7Bx%7D%7C%5E%60');
  assert.equal(path('/café'), '/caf%C3%A9');
});

test('encoded slash and backslash, raw backslash, NUL and malformed escapes are rejected', () => {
  for (const raw of ['/a%2Fb', '/a%2fb', '/%2e%2e%2fadmin', '/a%5Cb', '/a\\b', '/a%00b', '/a%zz', '/a%4', '/a%']) {
    assert.match(path(raw), /^rejected: /, raw);
  }
});

test('path parameters are kept for the upstream and ignored for matching', () => {
  assert.deepEqual(normalisePath('/admin;jsessionid=1/x'), {
    ok: true,
    path: '/admin;jsessionid=1/x',
    matchPath: '/admin/x',
  });
  assert.deepEqual(normalisePath('/;x/admin'), { ok: true, path: '/;x/admin', matchPath: '/admin' });
  assert.match(path('/public/..;/admin'), /^rejected: /, 'a dot segment with parameters is ambiguous');
  assert.match(path('/public/.;x/admin'), /^rejected: /);
});

test('an already normal path is returned as is, and "*" stays "*"', () => {
  const raw = '/api/v1/users/42:edit@x';
  const result = normalisePath(raw);
  assert.ok(result.ok);
  assert.equal(result.path, raw);
  assert.equal(result.matchPath, raw);
  assert.equal(path('*'), '*');
  assert.match(path('api'), /^rejected: /);
});

test('normalising twice changes nothing', () => {
  for (const raw of ['/a/../b//c/./%2e/x%c3%a9/', '/%61/b;p=1/c', '/x/"y"/..']) {
    const once = path(raw);
    assert.equal(path(once), once, raw);
  }
});
