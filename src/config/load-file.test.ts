import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigText, type ConfigResult } from './load-file.js';

const problems = (result: ConfigResult): string[] => (result.ok ? [] : result.problems.map(formatProblem));

const valid = `listeners:
  - { name: web, protocol: http, address: ":8080" }
routes:
  - match: { path: { prefix: /api } }
    service: api
services:
  api:
    endpoints:
      - url: http://127.0.0.1:3000
        weight: 2
`;

test('a valid file parses, with the defaults of the schema filled in', () => {
  const result = parseConfigText(valid, 'sy.yaml', {});
  assert.ok(result.ok);
  assert.equal(result.config.services['api']?.algorithm, 'round-robin');
  assert.equal(result.config.services['api']?.timeouts.connectMs, 5_000);
  assert.equal(result.config.services['api']?.timeouts.firstByteMs, 30_000);
  assert.equal(result.config.listeners[0]?.timeouts.headerMs, 10_000);
  assert.equal(result.config.listeners[0]?.limits.headerBytes, 16_384);
  assert.equal(result.config.listeners[0]?.limits.headerCount, 100);
  assert.equal(result.config.listeners[0]?.limits.targetBytes, 8_192);
});

test('every problem is reported at once, each at its exact line and column', () => {
  const text = `listeners:
  - { name: web, protocol: http, address: "nowhere", colour: blue }
routes:
  - match: { path: { prefix: api } }
    service: missing
services:
  api:
    algorithm: round-robbin
    endpoints:
      - url: ftp://10.0.0.1
      - url: http://10.0.0.2:80
        weight: -1
`;
  assert.deepEqual(problems(parseConfigText(text, 'sy.yaml', {})), [
    'sy.yaml:2:43 listeners.0.address: expected "host:port", "[v6]:port" or ":port"',
    "sy.yaml:2:54 listeners.0.colour: unknown key 'colour'",
    'sy.yaml:4:30 routes.0.match.path.prefix: a path prefix starts with "/"',
    'sy.yaml:5:14 routes.0.service: unknown service "missing"',
    'sy.yaml:8:16 services.api.algorithm: Invalid option: expected one of "round-robin"|"weighted-round-robin"|"random"|"least-connections"|"power-of-two"|"peak-ewma"|"consistent-hash"|"least-load"',
    'sy.yaml:10:14 services.api.endpoints.0.url: expected an http://, https://, tcp:// or udp:// URL',
    'sy.yaml:12:17 services.api.endpoints.1.weight: Too small: expected number to be >=0',
  ]);
});

test('a missing required key points at the map that lacks it', () => {
  const text = `listeners:\n  - name: web\n    protocol: http\nservices: {}\n`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), ['f.yaml:2:5 listeners.0.address: required']);
});

test('YAML syntax errors and duplicate keys carry their position', () => {
  const duplicate = `listeners: []\nlisteners: []\n`;
  const [first] = problems(parseConfigText(duplicate, 'f.yaml', {}));
  assert.match(first ?? '', /^f\.yaml:2:1 \(yaml\): /);
  const broken = `listeners:\n  - { name: web\n`;
  assert.match(problems(parseConfigText(broken, 'f.yaml', {}))[0] ?? '', /^f\.yaml:\d+:\d+ \(yaml\): /);
});

test('${VAR} and ${VAR:-default} are substituted inside values, typed like plain YAML', () => {
  const text = `listeners:
  - { name: web, protocol: http, address: "\${LISTEN:-:8080}" }
services:
  api:
    endpoints:
      - url: http://\${HOST}:3000
        weight: \${WEIGHT:-3}
    maxConnectionsPerEndpoint: $\${literal}
`;
  const result = parseConfigText(text, 'f.yaml', { HOST: '10.1.1.1' });
  assert.ok(!result.ok);
  // `$\${literal}` stays a literal string, which is not a number: proof that it was not substituted.
  assert.deepEqual(problems(result), [
    'f.yaml:8:32 services.api.maxConnectionsPerEndpoint: Invalid input: expected number, received string',
  ]);
  const fixed = parseConfigText(text.replace('$${literal}', '10'), 'f.yaml', {
    HOST: '10.1.1.1',
    LISTEN: '127.0.0.1:9000',
  });
  assert.ok(fixed.ok);
  assert.equal(fixed.config.listeners[0]?.address, '127.0.0.1:9000');
  assert.equal(fixed.config.services['api']?.endpoints[0]?.url, 'http://10.1.1.1:3000');
  assert.equal(fixed.config.services['api']?.endpoints[0]?.weight, 3);
});

test('an unset variable without a default is a problem at its position; comments are never substituted', () => {
  const text = `# \${NOT_SUBSTITUTED_IN_COMMENTS}
listeners:
  - { name: web, protocol: http, address: "\${MISSING}" }
`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), [
    'f.yaml:3:43 listeners.0.address: environment variable MISSING is not set (write ${MISSING:-} for empty)',
  ]);
});

test('names must be unique and references must exist', () => {
  const text = `listeners:
  - { name: web, protocol: http, address: ":8080", service: nope }
  - { name: web, protocol: http, address: ":8080" }
routes:
  - { listeners: [web, other], service: api }
services:
  api:
    endpoints:
      - url: http://10.0.0.1:80
      - url: http://10.0.0.1
`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), [
    'f.yaml:2:61 listeners.0.service: unknown service "nope"',
    'f.yaml:3:13 listeners.1.name: duplicate listener "web"',
    'f.yaml:3:43 listeners.1.address: port 8080 is already used by listeners.0',
    'f.yaml:5:24 routes.0.listeners.1: unknown listener "other"',
    'f.yaml:10:14 services.api.endpoints.1.url: duplicate endpoint id "10.0.0.1:80"',
  ]);
});

test('a wildcard listen address clashes with any other address on the same port', () => {
  const text = `listeners:
  - { name: a, protocol: http, address: "127.0.0.1:8080" }
  - { name: b, protocol: http, address: "0.0.0.0:8080" }
  - { name: c, protocol: http, address: "127.0.0.1:8081" }
  - { name: d, protocol: http, address: "127.0.0.2:8081" }
`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), [
    'f.yaml:3:41 listeners.1.address: port 8080 is already used by listeners.0',
  ]);
});

test('an endpoint URL must be an origin: no path, query or credentials', () => {
  const text = `listeners: [{ name: web, protocol: http, address: ":80" }]
services: { api: { endpoints: [{ url: "http://user:pw@10.0.0.1/x?y" }] } }
`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), [
    'f.yaml:2:39 services.api.endpoints.0.url: an endpoint URL is an origin only (scheme, host, port): no path, query or credentials',
  ]);
});

test('stickiness secrets need unique ids and key lifetimes stay between 1s and 365d', () => {
  const text = `stickinessSecrets: [{ id: a, secret: aaaaaaaaaaaaaaaa }, { id: a, secret: bbbbbbbbbbbbbbbb }]
listeners: [{ name: web, protocol: http, address: ":80", service: s }]
services:
  s: { stickiness: { cookie: { ttl: 0s } } }
  t: { stickiness: { cookie: { ttl: 1000d } } }
  u: { stickiness: { cookie: { ttl: 12h } } }
`;
  assert.deepEqual(problems(parseConfigText(text, 'f.yaml', {})), [
    'f.yaml:1:20 stickinessSecrets: secret ids must be unique',
    'f.yaml:4:37 services.s.stickiness.cookie.ttl: a duration from 1s to 365d',
    'f.yaml:5:37 services.t.stickiness.cookie.ttl: a duration from 1s to 365d',
  ]);
});

test('an unknown key names the nearest known key at that place, when one is close', () => {
  const text = `listeners:
  - { name: web, protocol: http, address: ":8080", service: api, timeouts: { headrMs: 5 } }
services:
  api:
    healtCheck: { http: {} }
    endpoints:
      - { url: http://127.0.0.1:3000, Weight: 2, colour: blue }
`;
  assert.deepEqual(problems(parseConfigText(text, 'sy.yaml', {})), [
    "sy.yaml:2:78 listeners.0.timeouts.headrMs: unknown key 'headrMs' — did you mean 'headerMs'?",
    "sy.yaml:5:5 services.api.healtCheck: unknown key 'healtCheck' — did you mean 'healthCheck'?",
    "sy.yaml:7:39 services.api.endpoints.0.Weight: unknown key 'Weight' — did you mean 'weight'?",
    "sy.yaml:7:50 services.api.endpoints.0.colour: unknown key 'colour'",
  ]);
});

test('a route refuses a method no request can have, and suggests the nearest one', () => {
  const text = `listeners:
  - { name: web, protocol: http, address: ":8080" }
routes:
  - { match: { methods: [get, GTE, PURGE, CONNECT, FETCH] }, service: api }
services:
  api: { endpoints: [] }
`;
  assert.deepEqual(problems(parseConfigText(text, 'sy.yaml', {})), [
    "sy.yaml:4:31 routes.0.match.methods.1: unknown HTTP method 'GTE' — did you mean 'GET'?",
    'sy.yaml:4:43 routes.0.match.methods.3: CONNECT is answered 405 before routing: no route ever sees it',
    "sy.yaml:4:52 routes.0.match.methods.4: unknown HTTP method 'FETCH'",
  ]);
});
