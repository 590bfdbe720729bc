import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyErrors } from '../../core/errors.js';
import { clientAddressOf } from './client-address.js';
import { connectionRecord, existingRecord, problemOf, recordProblem } from './connection-record.js';

test('a connection has one record, made the first time it is asked for and never by a look', () => {
  const socket = { remoteAddress: '::ffff:10.0.0.1' };
  assert.equal(existingRecord(socket), undefined);
  const record = connectionRecord(socket);
  assert.equal(connectionRecord(socket), record);
  assert.equal(existingRecord(socket), record);
});

test('the client address a PROXY header gave the raw socket is found from a TLS socket over it', () => {
  const raw = { remoteAddress: '127.0.0.1' };
  const tls = { remoteAddress: '127.0.0.1', _parent: raw };
  assert.equal(clientAddressOf(tls), '127.0.0.1');
  connectionRecord(raw).clientAddress = '203.0.113.7';
  assert.equal(clientAddressOf(tls), '203.0.113.7');
  assert.equal(clientAddressOf({ remoteAddress: '::ffff:10.0.0.1' }), '10.0.0.1', 'IPv4-mapped turned back');
});

test('the problem a response was answered with is kept for its access-log line', () => {
  const res = {};
  assert.equal(problemOf(res), undefined);
  recordProblem(res, proxyErrors.noRoute);
  assert.equal(problemOf(res), proxyErrors.noRoute);
});
