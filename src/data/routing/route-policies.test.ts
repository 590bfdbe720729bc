import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalisePath } from '../../core/request-path.js';
import type { RouteSnapshot } from '../../core/snapshot.js';
import { HeaderRules, RoutePolicies, parseTemplate } from './route-policies.js';

const policies = (extra: Partial<RouteSnapshot>): RoutePolicies =>
  new RoutePolicies({ name: 'r', priority: 0, match: {}, service: 's', websocket: false, ...extra });

/** The rewritten path of a raw request path. */
const rewritten = (p: RoutePolicies, raw: string): string => {
  const n = normalisePath(raw);
  assert.ok(n.ok, raw);
  return p.rewrite(n.path, n.matchPath);
};

test('stripPrefix removes whole segments only, and leaves "/" rather than nothing', () => {
  const p = policies({
    match: { path: { kind: 'prefix', value: '/api', ignoreCase: false } },
    rewrite: { stripPrefix: '/api' },
  });
  assert.equal(rewritten(p, '/api/users'), '/users');
  assert.equal(rewritten(p, '/api'), '/');
  assert.equal(rewritten(p, '/api/'), '/');
  assert.equal(rewritten(p, '/apix'), '/apix', 'not on a segment boundary: unchanged');
  assert.equal(rewritten(p, '/api;v=1/users;p'), '/users;p', 'parameters of the stripped segment go with it');
  assert.equal(rewritten(p, '/;x/api/users'), '/users');
});

test('a case-insensitive prefix route strips its prefix in any case', () => {
  const p = policies({
    match: { path: { kind: 'prefix', value: '/api', ignoreCase: true } },
    rewrite: { stripPrefix: '/api' },
  });
  assert.equal(rewritten(p, '/API/users'), '/users');
});

test('replacePrefix swaps the matched prefix; replacePath swaps the whole path', () => {
  const match = { path: { kind: 'prefix' as const, value: '/old', ignoreCase: false } };
  const moved = policies({ match, rewrite: { replacePrefix: '/new/v2' } });
  assert.equal(rewritten(moved, '/old/a/b'), '/new/v2/a/b');
  assert.equal(rewritten(moved, '/old'), '/new/v2');
  const root = policies({ match, rewrite: { replacePrefix: '/' } });
  assert.equal(rewritten(root, '/old/a'), '/a');
  assert.equal(rewritten(root, '/old'), '/');
  const fixed = policies({ rewrite: { replacePath: '/maintenance.html' } });
  assert.equal(rewritten(fixed, '/anything/at/all'), '/maintenance.html');
  assert.equal(fixed.rewrite('*', '*'), '*', 'an asterisk-form target is never rewritten');
});

test('header rules remove, then set (replacing every field of the name), then add', () => {
  const rules = new HeaderRules({
    remove: ['x-secret', 'server'],
    set: [['x-env', 'prod']],
    add: [['x-extra', '1']],
  });
  assert.deepEqual(
    rules.apply(['Server', 'nginx', 'X-Env', 'dev', 'x-env', 'test', 'X-Secret', 's', 'X-Extra', '0', 'Other', 'kept']),
    ['X-Extra', '0', 'Other', 'kept', 'x-env', 'prod', 'x-extra', '1'],
  );
});

test('a redirect built from parts keeps what it does not change', () => {
  const source = { scheme: 'http' as const, host: 'Shop.Example.com:8080', path: '/cart', query: 'a=1' };
  const https = policies({ service: undefined, redirect: { status: 308, scheme: 'https', dropQuery: false } });
  assert.equal(https.redirect?.status, 308);
  assert.equal(https.redirect?.location(source), 'https://shop.example.com/cart?a=1', 'a new scheme drops the port');
  const host = policies({ redirect: { status: 301, host: 'www.example.com', dropQuery: true } });
  assert.equal(host.redirect?.location(source), 'http://www.example.com:8080/cart', 'same scheme: port kept');
  const port = policies({ redirect: { status: 302, scheme: 'https', port: 8443, path: '/login', dropQuery: false } });
  assert.equal(port.redirect?.location(source), 'https://shop.example.com:8443/login?a=1');
  const defaultPort = policies({ redirect: { status: 302, scheme: 'https', port: 443, dropQuery: false } });
  assert.equal(defaultPort.redirect?.location(source), 'https://shop.example.com/cart?a=1');
  assert.equal(https.redirect?.location({ ...source, host: undefined }), undefined, 'no Host, no absolute target');
});

test('a redirect template fills in the request parts', () => {
  const p = policies({ redirect: { status: 301, to: 'https://{host}:9443/v2{path}{query}', dropQuery: false } });
  const source = { scheme: 'http' as const, host: 'a.test:8080', path: '/x', query: 'q=1' };
  assert.equal(p.redirect?.location(source), 'https://a.test:9443/v2/x?q=1');
  const scheme = policies({ redirect: { status: 301, to: '{scheme}://b.test:{port}{path}', dropQuery: false } });
  assert.equal(scheme.redirect?.location({ ...source, host: 'a.test' }), 'http://b.test:80/x');
  assert.deepEqual(parseTemplate('/a{path}{nope}'), ['/a', { placeholder: 'path' }, '{nope}']);
});

test('a fixed response carries its body, a content type when there is one, and its length', () => {
  const forbidden = policies({ respond: { status: 403, body: 'no', contentType: 'text/html' } }).respond!;
  assert.equal(forbidden.status, 403);
  assert.deepEqual(forbidden.headers, ['content-type', 'text/html', 'content-length', '2']);
  const empty = policies({ respond: { status: 204, body: '' } }).respond!;
  assert.deepEqual(empty.headers, ['content-length', '0']);
  const utf8 = policies({ respond: { status: 200, body: 'é' } }).respond!;
  assert.deepEqual(utf8.headers, ['content-type', 'text/plain; charset=utf-8', 'content-length', '2']);
});

test('per-route timeouts and body limit are carried as given', () => {
  const p = policies({ timeouts: { firstByteMs: 250 }, maxBodyBytes: 1024 });
  assert.equal(p.firstByteMs, 250);
  assert.equal(p.bodyIdleMs, undefined);
  assert.equal(p.maxBodyBytes, 1024);
});
