import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalisePath } from '../../core/request-path.js';
import type { RouteMatchSnapshot, RouteSnapshot } from '../../core/snapshot.js';
import { hostnameOf, RouteTable, type RouteRequest } from './route-table.js';

const route = (name: string, match: RouteMatchSnapshot = {}, extra: Partial<RouteSnapshot> = {}): RouteSnapshot => ({
  name,
  priority: 0,
  match,
  service: name,
  websocket: false,
  ...extra,
});
const prefix = (value: string, ignoreCase = false) => ({ kind: 'prefix' as const, value, ignoreCase });
const exact = (value: string, ignoreCase = false) => ({ kind: 'exact' as const, value, ignoreCase });
const regex = (value: string, ignoreCase = false) => ({ kind: 'regex' as const, value, ignoreCase });

/** The name of the route a request picks; `target` is a raw request target, normalised as the proxy does. */
function pick(
  table: RouteTable,
  target: string,
  request: Partial<Omit<RouteRequest, 'path'>> = {},
): string | undefined {
  const mark = target.indexOf('?');
  const normalised = normalisePath(mark === -1 ? target : target.slice(0, mark));
  if (!normalised.ok) return `rejected: ${normalised.reason}`;
  return table.match({
    host: 'h.test',
    method: 'GET',
    query: mark === -1 ? '' : target.slice(mark + 1),
    rawHeaders: [],
    clientIp: '127.0.0.1',
    ...request,
    path: normalised.matchPath,
  })?.route.name;
}

test('a path prefix matches on segment boundaries only', () => {
  const table = new RouteTable([route('a', { path: prefix('/a') }), route('root')]);
  assert.equal(pick(table, '/a'), 'a');
  assert.equal(pick(table, '/a/'), 'a');
  assert.equal(pick(table, '/a/b/c'), 'a');
  assert.equal(pick(table, '/ab'), 'root');
  assert.equal(pick(table, '/'), 'root');
});

test('the longest prefix wins whatever the configuration order', () => {
  const table = new RouteTable([route('api', { path: prefix('/api') }), route('v2', { path: prefix('/api/v2') })]);
  assert.equal(pick(table, '/api/v2/users'), 'v2');
  assert.equal(pick(table, '/api/v1'), 'api');
});

test('exact host beats wildcard host beats any host; host matching ignores case, port and trailing dot', () => {
  const table = new RouteTable([
    route('any'),
    route('wild', { host: '*.example.com' }),
    route('deeper', { host: '*.eu.example.com' }),
    route('exact', { host: 'api.example.com' }),
  ]);
  assert.equal(pick(table, '/', { host: 'API.Example.com:8080' }), 'exact');
  assert.equal(pick(table, '/', { host: 'api.example.com.' }), 'exact');
  assert.equal(pick(table, '/', { host: 'www.example.com' }), 'wild');
  assert.equal(pick(table, '/', { host: 'a.b.example.com' }), 'wild', 'a wildcard spans several labels');
  assert.equal(pick(table, '/', { host: 'shop.eu.example.com' }), 'deeper', 'the longer suffix first');
  assert.equal(pick(table, '/', { host: 'example.com' }), 'any', 'a wildcard needs at least one label');
  assert.equal(pick(table, '/', { host: undefined }), 'any');
});

test('no match gives undefined', () => {
  const table = new RouteTable([route('a', { host: 'a.test', path: prefix('/a') })]);
  assert.equal(pick(table, '/a', { host: 'b.test' }), undefined);
  assert.equal(pick(table, '/b', { host: 'a.test' }), undefined);
});

test('equally specific routes resolve in configuration order, every time', () => {
  const routes = [route('first', { path: prefix('/x') }), route('second', { path: prefix('/x') })];
  for (let i = 0; i < 5; i++) {
    const table = new RouteTable(routes);
    assert.equal(pick(table, '/x'), 'first');
    assert.deepEqual(
      table.routes.map((r) => r.name),
      ['first', 'second'],
    );
  }
});

test('an explicit priority comes before specificity; a listener fallback comes after everything', () => {
  const table = new RouteTable([
    route('fallback', {}, { fallback: true }),
    route('low', { path: prefix('/') }, { priority: -5 }),
    route('specific', { host: 'h.test', path: exact('/x') }),
    route('urgent', { path: prefix('/') }, { priority: 10 }),
  ]);
  assert.deepEqual(
    table.routes.map((r) => r.name),
    ['urgent', 'specific', 'low', 'fallback'],
  );
  assert.equal(pick(table, '/x'), 'urgent', 'a prioritised any-host route beats an exact host');
});

test('priority ties across host buckets are walked in one order', () => {
  const table = new RouteTable([
    route('exact-host-low', { host: 'h.test' }, { priority: 1 }),
    route('wild-high', { host: '*.test', methods: ['POST'] }, { priority: 3 }),
    route('any-mid', { path: prefix('/a') }, { priority: 2 }),
  ]);
  assert.equal(pick(table, '/a', { method: 'POST' }), 'wild-high');
  assert.equal(pick(table, '/a'), 'any-mid');
  assert.equal(pick(table, '/b'), 'exact-host-low');
});

test('exact path beats regex path beats prefix beats no path', () => {
  const table = new RouteTable([
    route('all'),
    route('prefix', { path: prefix('/users') }),
    route('regex', { path: regex('/users/[0-9]+') }),
    route('exact', { path: exact('/users/42') }),
  ]);
  assert.equal(pick(table, '/users/42'), 'exact');
  assert.equal(pick(table, '/users/7'), 'regex');
  assert.equal(pick(table, '/users/me'), 'prefix');
  assert.equal(pick(table, '/other'), 'all');
});

test('a regex must match the whole path; ignoreCase applies to every path kind', () => {
  const table = new RouteTable([
    route('regex', { path: regex('/v[0-9]') }),
    route('folded', { path: prefix('/Docs', true) }),
    route('exactFolded', { path: exact('/README', true) }),
  ]);
  assert.equal(pick(table, '/v1'), 'regex');
  assert.equal(pick(table, '/v1/x'), undefined, 'no partial regex match');
  assert.equal(pick(table, '/xv1'), undefined);
  assert.equal(pick(table, '/docs/a'), 'folded');
  assert.equal(pick(table, '/DOCS'), 'folded');
  assert.equal(pick(table, '/readme'), 'exactFolded');
});

test('with the same path, the route with more conditions is tried first', () => {
  const table = new RouteTable([
    route('plain', { path: prefix('/api') }),
    route('posts', { path: prefix('/api'), methods: ['POST'] }),
    route('tenant-posts', {
      path: prefix('/api'),
      methods: ['POST'],
      headers: [{ name: 'x-tenant', kind: 'present' }],
    }),
  ]);
  assert.equal(pick(table, '/api', { method: 'POST', rawHeaders: ['X-Tenant', 'a'] }), 'tenant-posts');
  assert.equal(pick(table, '/api', { method: 'POST' }), 'posts');
  assert.equal(pick(table, '/api', { method: 'GET' }), 'plain');
});

test('methods match exactly', () => {
  const table = new RouteTable([route('writes', { methods: ['POST', 'PUT'] })]);
  assert.equal(pick(table, '/', { method: 'PUT' }), 'writes');
  assert.equal(pick(table, '/', { method: 'GET' }), undefined);
  assert.equal(pick(table, '/', { method: 'HEAD' }), undefined);
});

test('header conditions: exact, whole-value regex, present, absent; names in any case; any one field suffices', () => {
  const table = new RouteTable([
    route('exact', { headers: [{ name: 'x-tenant', kind: 'exact', value: 'acme' }] }),
    route('regex', { headers: [{ name: 'x-version', kind: 'regex', value: 'v[23]' }] }),
    route('present', { headers: [{ name: 'authorization', kind: 'present' }] }),
    route('absent', { headers: [{ name: 'cookie', kind: 'absent' }] }),
  ]);
  assert.equal(pick(table, '/', { rawHeaders: ['X-TENANT', 'acme', 'Cookie', 'a=1'] }), 'exact');
  assert.equal(pick(table, '/', { rawHeaders: ['x-tenant', 'Acme', 'Cookie', 'a=1'] }), undefined, 'values are exact');
  assert.equal(pick(table, '/', { rawHeaders: ['x-tenant', 'other', 'x-tenant', 'acme', 'Cookie', 'a'] }), 'exact');
  assert.equal(pick(table, '/', { rawHeaders: ['X-Version', 'v3', 'Cookie', 'a'] }), 'regex');
  assert.equal(pick(table, '/', { rawHeaders: ['X-Version', 'v33', 'Cookie', 'a'] }), undefined);
  assert.equal(pick(table, '/', { rawHeaders: ['Authorization', '', 'Cookie', 'a'] }), 'present');
  assert.equal(pick(table, '/'), 'absent');
});

test('query conditions: decoded as a form, any occurrence suffices, present and absent', () => {
  const table = new RouteTable([
    route('v2', { query: [{ name: 'version', kind: 'exact', value: '2' }] }),
    route('spaced', { query: [{ name: 'q', kind: 'exact', value: 'a b/c' }] }),
    route('debug', { query: [{ name: 'debug', kind: 'present' }] }),
    route('ids', { query: [{ name: 'id', kind: 'regex', value: '[0-9]+' }] }),
    route('no-token', { query: [{ name: 'token', kind: 'absent' }] }),
  ]);
  assert.equal(pick(table, '/?version=2'), 'v2');
  assert.equal(pick(table, '/?version=1&version=2'), 'v2');
  assert.equal(pick(table, '/?q=a+b%2Fc'), 'spaced');
  assert.equal(pick(table, '/?debug'), 'debug');
  assert.equal(pick(table, '/?id=42&token=x'), 'ids');
  assert.equal(pick(table, '/?id=4x2&token=x'), undefined);
  assert.equal(pick(table, '/?other=1'), 'no-token');
  assert.equal(pick(table, '/?token=1'), undefined);
});

test('client CIDRs match IPv4, IPv6 and IPv4-mapped IPv6 clients', () => {
  const table = new RouteTable([
    route('office', { clientCidrs: ['10.0.0.0/8', 'fd00::/8'] }),
    route('rest', {}, { priority: -1 }),
  ]);
  assert.equal(pick(table, '/', { clientIp: '10.1.2.3' }), 'office');
  assert.equal(pick(table, '/', { clientIp: '::ffff:10.1.2.3' }), 'office');
  assert.equal(pick(table, '/', { clientIp: 'fd12::1' }), 'office');
  assert.equal(pick(table, '/', { clientIp: '11.0.0.1' }), 'rest');
  assert.equal(pick(table, '/', { clientIp: 'not-an-ip' }), 'rest');
});

test('every encoding of /admin reaches the /admin route, never the catch-all', () => {
  const table = new RouteTable([route('admin', { path: prefix('/admin') }), route('all')]);
  for (const target of [
    '/admin',
    '/a/../admin',
    '/%2e%2e/admin',
    '/%2E%2E/admin',
    '/.%2e/admin',
    '//admin',
    '///admin//users',
    '/admin/.',
    '/./admin',
    '/%61dmin',
    '/%61%64%6D%69%6E',
    '/public/%2e%2e/admin',
    '/admin;jsessionid=1',
    '/;x/admin',
    '/admin?x=/public',
  ]) {
    assert.equal(pick(table, target), 'admin', target);
  }
  assert.equal(pick(table, '/ADMIN'), 'all', 'paths are case-sensitive unless ignoreCase');
  assert.equal(pick(table, '/administrator'), 'all');
});

test('encoded slashes, backslashes, NUL, malformed escapes and dot segments with parameters are rejected', () => {
  const table = new RouteTable([route('all')]);
  for (const target of [
    '/public%2F..%2Fadmin',
    '/a%2fb',
    '/a%5Cb',
    '/a\\..\\admin',
    '/a%00',
    '/a%zz',
    '/a%4',
    '/x/..;/admin',
  ]) {
    assert.match(pick(table, target) ?? '', /^rejected: /, target);
  }
});

test('percent-escapes compare in any case: a route written with %c3%a9 matches %C3%A9', () => {
  const written = normalisePath('/caf%c3%a9');
  assert.ok(written.ok);
  const table = new RouteTable([route('cafe', { path: exact(written.path) })]);
  assert.equal(pick(table, '/caf%C3%A9'), 'cafe');
  assert.equal(pick(table, '/caf%c3%a9'), 'cafe');
  assert.equal(pick(table, '/%63af%C3%a9'), 'cafe');
});

test('an asterisk-form target only meets routes without a path condition', () => {
  const table = new RouteTable([route('api', { path: prefix('/api') }), route('all')]);
  assert.equal(pick(table, '*', { method: 'OPTIONS' }), 'all');
});

test('the host and segment indexes never change the answer of a plain scan in table order', () => {
  // A seeded generator: the same 300 tables and requests on every run.
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const hosts = [undefined, 'a.test', '*.test', 'b.a.test', '*.a.test'];
  const paths = [
    undefined,
    prefix('/'),
    prefix('/x'),
    prefix('/x/y'),
    exact('/x'),
    exact('/'),
    regex('/x/[a-z]+'),
    prefix('/X', true),
    exact('/y/z'),
  ];
  const targets = ['/', '/x', '/x/y', '/x/yz', '/X/y', '/y/z', '/q', '*'];
  const requestHosts = ['a.test', 'b.a.test', 'c.b.a.test', 'other', undefined];
  for (let round = 0; round < 300; round++) {
    const routes = Array.from({ length: 1 + random(8) }, (_, i) => {
      const host = hosts[random(hosts.length)];
      const path = paths[random(paths.length)];
      const methods = random(3) === 0 ? ['POST'] : undefined;
      return route(
        `r${i}`,
        { ...(host && { host }), ...(path && { path }), ...(methods && { methods }) },
        {
          priority: random(3) - 1,
          ...(random(6) === 0 ? { fallback: true } : {}),
        },
      );
    });
    const table = new RouteTable(routes);
    // The reference: every route of the table, in its order, with the host checked by hand.
    const reference = (target: string, host: string | undefined, method: string) => {
      const single = new RouteTable([]);
      for (const candidate of table.routes) {
        const only = new RouteTable([{ ...candidate, priority: 0, fallback: false }]);
        const name = hostnameOf(host);
        const wanted = candidate.match.host;
        const hostOk =
          wanted === undefined ||
          (wanted.startsWith('*.')
            ? name.endsWith(wanted.slice(1)) && name.length > wanted.length - 1
            : name === wanted);
        if (hostOk && pick(only, target, { host, method }) === candidate.name) return candidate.name;
      }
      return pick(single, target, { host, method });
    };
    for (const target of targets) {
      for (const host of requestHosts) {
        for (const method of ['GET', 'POST']) {
          assert.equal(pick(table, target, { host, method }), reference(target, host, method), `${target} ${host}`);
        }
      }
    }
  }
});

test('hostnameOf strips ports and keeps IPv6 brackets', () => {
  assert.equal(hostnameOf('[::1]:8080'), '[::1]');
  assert.equal(hostnameOf('Example.COM'), 'example.com');
  assert.equal(hostnameOf(undefined), '');
});
