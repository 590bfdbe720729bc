import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, cidrCovers, parseCidr, parseIp } from './cidr.js';

const contains = (cidr: string, ip: string): boolean => cidrContains(parseCidr(cidr)!, parseIp(ip)!);

test('IPv4 blocks contain the addresses under their prefix only', () => {
  assert.ok(contains('10.0.0.0/8', '10.255.1.2'));
  assert.ok(!contains('10.0.0.0/8', '11.0.0.1'));
  assert.ok(contains('192.168.1.7', '192.168.1.7'));
  assert.ok(!contains('192.168.1.7', '192.168.1.8'));
  assert.ok(contains('172.16.0.0/12', '172.31.255.255'));
  assert.ok(!contains('172.16.0.0/12', '172.32.0.0'));
  assert.ok(contains('0.0.0.0/0', '8.8.8.8'));
});

test('IPv6 blocks, compressed forms, zones and IPv4-mapped clients', () => {
  assert.ok(contains('fd00::/8', 'fdab:1::2'));
  assert.ok(!contains('fd00::/8', 'fe80::1'));
  assert.ok(contains('::1', '::1'));
  assert.ok(contains('2001:db8::/32', '2001:0db8:0000:0000:0000:0000:0000:0001'));
  assert.ok(contains('fe80::/10', 'fe80::1%eth0'));
  assert.ok(contains('10.0.0.0/8', '::ffff:10.1.2.3'), 'an IPv4-mapped client meets an IPv4 block');
  assert.ok(!contains('10.0.0.0/8', '::10.1.2.3'));
});

test('malformed addresses and blocks are refused', () => {
  for (const text of ['10.0.0', '10.0.0.256', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '', 'example.com']) {
    assert.equal(parseIp(text), undefined, text);
  }
  for (const text of ['10.0.0.0/33', '::/129', '10.0.0.0/x', '10.0.0.0/'])
    assert.equal(parseCidr(text), undefined, text);
});

test('a block covers another when the other lies wholly inside it', () => {
  assert.ok(cidrCovers(parseCidr('10.0.0.0/8')!, parseCidr('10.1.0.0/16')!));
  assert.ok(!cidrCovers(parseCidr('10.1.0.0/16')!, parseCidr('10.0.0.0/8')!));
  assert.ok(!cidrCovers(parseCidr('10.0.0.0/8')!, parseCidr('fd00::/8')!));
});
