import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { AdminAuth } from './auth.js';
import { ApiError } from './http-kit.js';

const request = (token?: string): IncomingMessage =>
  ({ headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }) as IncomingMessage;

const statusOf = (call: () => unknown): number | 'ok' => {
  try {
    call();
    return 'ok';
  } catch (error) {
    if (error instanceof ApiError) return error.status;
    throw error;
  }
};

const auth = new AdminAuth({
  tokens: {
    admin: 'A',
    read: 'R',
    register: [
      { token: 'G', services: ['greeter'] },
      { token: '', services: ['x'] },
    ],
  },
});

test('each role may make exactly its calls: admin all, read the views, register its services only', () => {
  const matrix: [string | undefined, 'open' | 'read' | 'register' | 'admin', string | undefined, number | 'ok'][] = [
    [undefined, 'open', undefined, 'ok'],
    [undefined, 'read', undefined, 401],
    ['nope', 'read', undefined, 401],
    ['A', 'read', undefined, 'ok'],
    ['A', 'admin', undefined, 'ok'],
    ['A', 'register', 'anything', 'ok'],
    ['R', 'read', undefined, 'ok'],
    ['R', 'register', 'greeter', 403],
    ['R', 'admin', undefined, 403],
    ['G', 'register', 'greeter', 'ok'],
    ['G', 'register', 'billing', 403],
    ['G', 'read', undefined, 403],
    ['G', 'admin', undefined, 403],
    ['', 'register', 'x', 401],
  ];
  for (const [token, access, service, expected] of matrix) {
    assert.equal(
      statusOf(() => auth.authorise(request(token), access, service)),
      expected,
      `${token} ${access} ${service}`,
    );
  }
  assert.deepEqual(auth.authorise(request('G'), 'register', 'greeter'), { role: 'register', services: ['greeter'] });
});

test('a dashboard session stands in for a missing token: a read session for reads only', () => {
  assert.equal(
    statusOf(() => auth.authorise(request(), 'read', undefined, 'read')),
    'ok',
  );
  assert.equal(
    statusOf(() => auth.authorise(request(), 'admin', undefined, 'read')),
    401,
  );
  assert.equal(
    statusOf(() => auth.authorise(request(), 'admin', undefined, 'admin')),
    'ok',
  );
});

test('without any token the API is open; a registration token alone closes it', () => {
  const open = new AdminAuth({ tokens: { register: [] } });
  assert.equal(open.open, true);
  assert.deepEqual(open.authorise(request(), 'admin'), { role: 'open' });
  const registerOnly = new AdminAuth({ tokens: { register: [{ token: 'G', services: ['greeter'] }] } });
  assert.equal(registerOnly.open, false);
  assert.equal(
    statusOf(() => registerOnly.authorise(request(), 'read')),
    401,
  );
});

test('allowedClients matches IPv4, IPv6 and IPv4-mapped addresses', () => {
  const limited = new AdminAuth({ tokens: { register: [] }, allowedClients: ['10.0.0.0/8', 'fd00::/8', '127.0.0.1'] });
  for (const ok of ['10.1.2.3', '::ffff:10.9.9.9', 'fd12::1', '127.0.0.1'])
    assert.equal(limited.clientAllowed(ok), true, ok);
  for (const no of ['11.0.0.1', '127.0.0.2', '::1', 'fe80::1', undefined])
    assert.equal(limited.clientAllowed(no), false, no);
  assert.equal(new AdminAuth({ tokens: { register: [] } }).clientAllowed(undefined), true);
});
