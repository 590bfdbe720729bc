import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigText, type ConfigResult } from './load-file.js';

const problems = (result: ConfigResult): string[] => (result.ok ? [] : result.problems.map(formatProblem));

const listener = (tls: string): string => `listeners:
  - name: websecure
    protocol: https
    address: ":8443"
    tls: ${tls}
`;
const resolver = `acme: { directory: https://ca.example/directory, agreeToTerms: true }\n`;

test('the two-line ACME config is valid, with its defaults filled in', () => {
  const result = parseConfigText(
    resolver + listener('{ acme: { domains: [example.com, www.example.com] } }'),
    'sy.yaml',
    {},
  );
  assert.ok(result.ok, problems(result).join('\n'));
  assert.equal(result.config.acme?.storage, './switchyard-acme');
  assert.equal(result.config.acme?.keyType, 'ecdsa-p256');
  assert.deepEqual(result.config.acme?.backoff, { minMs: 60_000, maxMs: 3_600_000 });
  assert.equal(result.config.listeners[0]?.tls?.ocspStapling, false);
  assert.deepEqual(result.config.listeners[0]?.tls?.certificates, []);
});

test('tls.acme without the top-level resolver is an error at its line', () => {
  const result = problems(parseConfigText(listener('{ acme: { domains: [example.com] } }'), 'sy.yaml', {}));
  assert.equal(result.length, 1);
  assert.match(result[0]!, /^sy\.yaml:5:\d+ listeners\.0\.tls\.acme: tls\.acme needs the top-level "acme" resolver/);
});

test('an https listener needs certificates or tls.acme; terms must be accepted; wildcards are refused', () => {
  assert.match(
    problems(parseConfigText(listener('{}'), 'sy.yaml', {})).join('\n'),
    /at least one certificate is needed \(or tls\.acme\)/,
  );
  const refused = `acme: { directory: https://ca.example/directory, agreeToTerms: false }\n`;
  assert.match(
    problems(parseConfigText(refused + listener('{ acme: { domains: [a.example] } }'), 'sy.yaml', {})).join('\n'),
    /terms must be accepted/,
  );
  assert.match(
    problems(parseConfigText(resolver + listener('{ acme: { domains: ["*.example.com"] } }'), 'sy.yaml', {})).join(
      '\n',
    ),
    /no wildcard/,
  );
});
