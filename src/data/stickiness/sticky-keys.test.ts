import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieValue, presentedKey, StickyKeys } from './sticky-keys.js';

const now = 1_800_000_000_000;
const secret = { id: 'k1', secret: 'a-very-secret-secret' };
const api = new StickyKeys([secret]).forService('api', ['10.0.0.1:3000', 'a', 'b']);

test('a key names its endpoint and verifies until it expires', () => {
  const key = api.issue('10.0.0.1:3000', 3600, now)!;
  assert.deepEqual(api.verify(key, now), { endpointId: '10.0.0.1:3000', expiresAt: now / 1000 + 3600 });
  assert.equal(api.verify(key, now + 3_600_000), undefined);
});

test("a key reveals nothing of the endpoint's address", () => {
  const key = api.issue('10.0.0.1:3000', 3600, now)!;
  assert.doesNotMatch(key, /10\.0\.0\.1|MTAuMC4wLjE/);
});

test('a key for one service is worthless for another', () => {
  const key = api.issue('a', 3600, now)!;
  assert.equal(new StickyKeys([secret]).forService('admin', ['a']).verify(key, now), undefined);
});

test('tampering with any part of a key voids it', () => {
  const key = api.issue('a', 3600, now)!;
  const [kid, expiry, tag, signature] = key.split('.') as [string, string, string, string];
  const [, , otherTag] = api.issue('b', 3600, now)!.split('.') as [string, string, string];
  const forgedTarget = [kid, expiry, otherTag, signature].join('.');
  const longerLife = [kid, (parseInt(expiry, 36) + 99_999).toString(36), tag, signature].join('.');
  const flippedBit = [kid, expiry, tag, `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`].join('.');
  for (const bad of [forgedTarget, longerLife, flippedBit, 'garbage', '', `${key}.extra`, key.replace('k1', 'k9')]) {
    assert.equal(api.verify(bad, now), undefined, bad);
  }
});

test('a key signed with another secret is refused; rotation verifies old keys and signs with the first', () => {
  const old = new StickyKeys([{ id: 'old', secret: 'the-old-secret-value' }]).forService('api', ['a']);
  const oldKey = old.issue('a', 3600, now)!;
  assert.equal(api.verify(oldKey, now), undefined);
  const rotated = new StickyKeys([
    { id: 'new', secret: 'the-new-secret-value' },
    { id: 'old', secret: 'the-old-secret-value' },
  ]).forService('api', ['a']);
  assert.equal(rotated.verify(oldKey, now)?.endpointId, 'a');
  assert.match(rotated.issue('a', 60, now)!, /^new\./);
});

test('a key for an endpoint that is gone no longer resolves', () => {
  const key = api.issue('b', 3600, now)!;
  assert.equal(new StickyKeys([secret]).forService('api', ['a']).verify(key, now), undefined);
});

test('the key comes from X-Sticky-Key first, else from the cookie', () => {
  assert.equal(presentedKey(['Cookie', 'a=1; sy_sticky=c; b=2'], 'sy_sticky'), 'c');
  assert.equal(presentedKey(['Cookie', 'sy_sticky=c', 'X-Sticky-Key', 'h'], 'sy_sticky'), 'h');
  assert.equal(presentedKey(['Cookie', 'other=1'], 'sy_sticky'), undefined);
  assert.equal(cookieValue('JSESSIONID="abc"; x=y', 'JSESSIONID'), 'abc');
});
