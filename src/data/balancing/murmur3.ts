/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes, as an unsigned 32-bit integer. It gives the same numbers as
 * the reference C implementation (and Guava's `murmur3_32_fixed`), so rings built
 * elsewhere can be compared. Pure and allocation-free: the UTF-8 bytes are produced on the fly, nothing is encoded into a buffer.
 *
 * @param text any string; lone surrogates are hashed as U+FFFD, as `TextEncoder` would encode them.
 * @param seed a 32-bit seed (default 0); different seeds give independent hash functions (Maglev uses two).
 */
export function murmur3(text: string, seed = 0): number {
  let h = seed >>> 0;
  let block = 0;
  let filled = 0;
  let length = 0;

  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdfff) {
      const low = text.charCodeAt(i + 1);
      if (code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else {
        code = 0xfffd;
      }
    }
    const count = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    for (let j = 0; j < count; j++) {
      const shift = 6 * (count - 1 - j);
      const byte =
        j > 0 ? 0x80 | ((code >> shift) & 0x3f) : count === 1 ? code : (LEAD[count]! | (code >> shift)) & 0xff;
      block |= byte << (filled * 8);
      length++;
      if (++filled === 4) {
        h = Math.imul(rotl(mixBlock(h, block), 13), 5) + 0xe6546b64;
        block = 0;
        filled = 0;
      }
    }
  }

  if (filled > 0) h = mixBlock(h, block);
  return finalMix(h ^ length);
}

/** The first byte's marker bits of a UTF-8 sequence, by sequence length. */
const LEAD = [0, 0, 0xc0, 0xe0, 0xf0];

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, 0xcc9e2d51);
  k = rotl(k, 15);
  k = Math.imul(k, 0x1b873593);
  return h ^ k;
}

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
