import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteMatchSnapshot, RouteSnapshot } from '../../core/snapshot.js';
import { shadowedRoutes } from './route-shadowing.js';

const route = (name: string, match: RouteMatchSnapshot = {}, extra: Partial<RouteSnapshot> = {}): RouteSnapshot => ({
  name,
  priority: 0,
  match,
  service: 'app',
  websocket: false,
  ...extra,
});
const prefix = (value: string) => ({ kind: 'prefix' as const, value, ignoreCase: false });
const shadowed = (routes: RouteSnapshot[]): string[] =>
  shadowedRoutes(routes).map((s) => `${s.route.name}<${s.by.name}`);

test('a duplicate route and a route under a prioritised catch-all are never reached', () => {
  assert.deepEqual(shadowed([route('a', { path: prefix('/a') }), route('b', { path: prefix('/a') })]), ['b<a']);
  assert.deepEqual(shadowed([route('api', { path: prefix('/api') }), route('all', {}, { priority: 1 })]), ['api<all']);
});

test('more specific routes sort first, so they are not shadowed by broader ones', () => {
  assert.deepEqual(
    shadowed([
      route('all'),
      route('api', { path: prefix('/api') }),
      route('host', { host: 'a.test' }),
      route('post', { methods: ['POST'] }),
    ]),
    [],
  );
});

test('a higher priority prefix shadows the longer prefixes under it, not beside it', () => {
  assert.deepEqual(
    shadowed([
      route('v1', { path: prefix('/api/v1') }),
      route('apix', { path: prefix('/apix') }),
      route('api', { path: prefix('/api') }, { priority: 5 }),
    ]),
    ['v1<api'],
  );
});

test('hosts, methods, headers, query and CIDRs must all be covered', () => {
  const wide = (extra: RouteMatchSnapshot) => route('wide', extra, { priority: 1 });
  assert.deepEqual(shadowed([wide({ host: '*.example.com' }), route('n', { host: 'a.example.com' })]), ['n<wide']);
  assert.deepEqual(shadowed([wide({ host: '*.example.com' }), route('n', { host: 'example.com' })]), []);
  assert.deepEqual(shadowed([wide({ methods: ['GET', 'POST'] }), route('n', { methods: ['GET'] })]), ['n<wide']);
  assert.deepEqual(shadowed([wide({ methods: ['GET'] }), route('n', { methods: ['GET', 'PUT'] })]), []);
  assert.deepEqual(shadowed([wide({ methods: ['GET'] }), route('n')]), []);
  assert.deepEqual(
    shadowed([
      wide({ headers: [{ name: 'x-a', kind: 'present' }] }),
      route('n', { headers: [{ name: 'x-a', kind: 'exact', value: '1' }] }),
    ]),
    ['n<wide'],
  );
  assert.deepEqual(
    shadowed([
      wide({ query: [{ name: 'v', kind: 'regex', value: '[0-9]+' }] }),
      route('n', { query: [{ name: 'v', kind: 'exact', value: '2' }] }),
    ]),
    ['n<wide'],
  );
  assert.deepEqual(
    shadowed([
      wide({ headers: [{ name: 'x-a', kind: 'exact', value: '1' }] }),
      route('n', { headers: [{ name: 'x-a', kind: 'present' }] }),
    ]),
    [],
  );
  assert.deepEqual(shadowed([wide({ clientCidrs: ['10.0.0.0/8'] }), route('n', { clientCidrs: ['10.1.0.0/16'] })]), [
    'n<wide',
  ]);
  assert.deepEqual(shadowed([wide({ clientCidrs: ['10.1.0.0/16'] }), route('n', { clientCidrs: ['10.0.0.0/8'] })]), []);
});

test('regex paths: an exact path a regex matches is covered; two different regexes never are', () => {
  const re = (value: string) => ({ kind: 'regex' as const, value, ignoreCase: false });
  assert.deepEqual(
    shadowed([
      route('re', { path: re('/u/[0-9]+') }, { priority: 1 }),
      route('n', { path: { kind: 'exact', value: '/u/7', ignoreCase: false } }),
    ]),
    ['n<re'],
  );
  assert.deepEqual(
    shadowed([route('re', { path: re('/u/.*') }, { priority: 1 }), route('n', { path: re('/u/[0-9]+') })]),
    [],
  );
});

test("a listener's fallback is shadowed by a catch-all route", () => {
  assert.deepEqual(shadowed([route('all'), route('web.default', {}, { fallback: true })]), ['web.default<all']);
  assert.deepEqual(
    shadowed([route('api', { path: prefix('/api') }), route('web.default', {}, { fallback: true })]),
    [],
  );
});
