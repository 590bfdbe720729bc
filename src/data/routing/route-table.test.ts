import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteSnapshot } from '../../core/snapshot.js';
import { hostnameOf, RouteTable } from './route-table.js';

const route = (name: string, pathPrefix = '/', host?: string): RouteSnapshot => ({
  name,
  pathPrefix,
  service: name,
  ...(host === undefined ? {} : { host }),
});

test('a path prefix matches on segment boundaries only', () => {
  const table = new RouteTable([route('a', '/a'), route('root')]);
  assert.equal(table.match('x', '/a')?.name, 'a');
  assert.equal(table.match('x', '/a/')?.name, 'a');
  assert.equal(table.match('x', '/a/b/c')?.name, 'a');
  assert.equal(table.match('x', '/ab')?.name, 'root');
  assert.equal(table.match('x', '/')?.name, 'root');
});

test('the longest prefix wins whatever the configuration order', () => {
  const table = new RouteTable([route('api', '/api'), route('v2', '/api/v2'), route('root')]);
  assert.equal(table.match(undefined, '/api/v2/users')?.name, 'v2');
  assert.equal(table.match(undefined, '/api/v1')?.name, 'api');
});

test('exact host beats wildcard host beats any host; host matching ignores case, port and trailing dot', () => {
  const table = new RouteTable([
    route('any'),
    route('wild', '/', '*.example.com'),
    route('exact', '/', 'api.example.com'),
  ]);
  assert.equal(table.match('API.Example.com:8080', '/')?.name, 'exact');
  assert.equal(table.match('api.example.com.', '/')?.name, 'exact');
  assert.equal(table.match('www.example.com', '/')?.name, 'wild');
  assert.equal(table.match('example.com', '/')?.name, 'any');
  assert.equal(table.match(undefined, '/')?.name, 'any');
});

test('no match gives undefined', () => {
  const table = new RouteTable([route('a', '/a', 'a.test')]);
  assert.equal(table.match('b.test', '/a'), undefined);
  assert.equal(table.match('a.test', '/b'), undefined);
});

test('equally specific routes resolve in configuration order, every time', () => {
  const table = new RouteTable([route('first', '/x'), route('second', '/x')]);
  assert.equal(table.match('h', '/x')?.name, 'first');
  assert.deepEqual(
    table.routes.map((r) => r.name),
    ['first', 'second'],
  );
});

test('hostnameOf strips ports and keeps IPv6 brackets', () => {
  assert.equal(hostnameOf('[::1]:8080'), '[::1]');
  assert.equal(hostnameOf('Example.COM'), 'example.com');
  assert.equal(hostnameOf(undefined), '');
});
