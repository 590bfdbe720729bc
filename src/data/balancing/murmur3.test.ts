import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur3 } from './murmur3.js';

/** The textbook byte-at-a-time MurmurHash3 x86_32 over TextEncoder's bytes, to check the streaming UTF-8. */
function reference(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  let h = seed >>> 0;
  const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
  const mix = (k: number): number => Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
  let i = 0;
  for (; i + 4 <= bytes.length; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = Math.imul(rotl(h ^ mix(k), 13), 5) + 0xe6546b64;
  }
  let tail = 0;
  for (let j = bytes.length - 1; j >= i; j--) tail = (tail << 8) | bytes[j]!;
  if (bytes.length > i) h ^= mix(tail);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

test('murmur3 gives the published MurmurHash3 x86_32 values', () => {
  assert.equal(murmur3(''), 0);
  assert.equal(murmur3('', 1), 0x514e28b7);
  assert.equal(murmur3('hello'), 0x248bfa47);
  assert.equal(murmur3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  assert.equal(murmur3('Hello, world!', 1234), 0xfaf6cdb3);
});

test('murmur3 hashes the UTF-8 bytes of any text, tails and surrogate pairs included', () => {
  for (const text of [
    'a',
    'ab',
    'abc',
    'abcd',
    'abcde',
    'é',
    'naïve café',
    '東京',
    '😀 ok',
    'x😀',
    '\ud800 lone',
    '203.0.113.7',
  ]) {
    for (const seed of [0, 42, 0x9e3779b9])
      assert.equal(murmur3(text, seed), reference(text, seed), `${text} / ${seed}`);
  }
});

test('murmur3 spreads similar keys: one changed character changes about half the bits', () => {
  let flipped = 0;
  for (let i = 0; i < 1000; i++) {
    let diff = murmur3(`10.0.0.${i}`) ^ murmur3(`10.0.0.${i + 1}`);
    for (; diff !== 0; diff &= diff - 1) flipped++;
  }
  assert.ok(Math.abs(flipped / 1000 - 16) < 1, `mean flipped bits ${flipped / 1000}`);
});
