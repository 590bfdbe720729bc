import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyErrors } from '../../core/errors.js';
import { anyRequest, attemptPolicies, failureOf, nextStep, problemFor, reportsFailure } from './attempt-policy.js';

const get = { method: 'GET', replayable: true, buffered: true };
const post = { method: 'POST', replayable: true, buffered: true };

test('a connect failure moves an HTTP request on once, whatever its method', () => {
  assert.equal(nextStep(attemptPolicies.http, 1, 'nothing-sent', post), 'another');
  assert.equal(nextStep(attemptPolicies.http, 2, 'nothing-sent', post), 'answer', 'two endpoints at most');
});

test('a reset moves only an idempotent request with a kept body on, and only within the budget', () => {
  assert.equal(nextStep(attemptPolicies.http, 1, 'reset', get), 'another-within-budget');
  assert.equal(nextStep(attemptPolicies.http, 1, 'reset', post), 'answer');
  assert.equal(nextStep(attemptPolicies.http, 1, 'reset', { ...get, buffered: false }), 'answer');
});

test('a body already read by the instance is never sent again', () => {
  const streamed = { method: 'PUT', replayable: false, buffered: false };
  assert.equal(nextStep(attemptPolicies.http, 1, 'nothing-sent', streamed), 'answer');
});

test('timeouts and other failures are answered, never repeated', () => {
  assert.equal(nextStep(attemptPolicies.http, 1, 'timeout', get), 'answer');
  assert.equal(nextStep(attemptPolicies.http, 1, 'other', get), 'answer');
  assert.equal(nextStep(attemptPolicies.http, 1, 'local', get), 'answer');
});

test('a TCP connection tries three endpoints, a tunnel two, a UDP session one; resets never move them on', () => {
  assert.equal(nextStep(attemptPolicies.tcp, 2, 'nothing-sent', anyRequest), 'another');
  assert.equal(nextStep(attemptPolicies.tcp, 3, 'nothing-sent', anyRequest), 'answer');
  assert.equal(nextStep(attemptPolicies.websocket, 1, 'nothing-sent', anyRequest), 'another');
  assert.equal(nextStep(attemptPolicies.websocket, 2, 'nothing-sent', anyRequest), 'answer');
  assert.equal(nextStep(attemptPolicies.udp, 1, 'nothing-sent', anyRequest), 'answer');
  assert.equal(nextStep(attemptPolicies.tcp, 1, 'reset', { ...anyRequest, method: 'GET' }), 'answer');
});

test('error codes fall into the kinds the policy knows, and each kind has its answer', () => {
  assert.equal(failureOf('ECONNREFUSED'), 'nothing-sent');
  assert.equal(failureOf('UND_ERR_CLOSED'), 'nothing-sent');
  assert.equal(failureOf('CERT_HAS_EXPIRED'), 'nothing-sent');
  assert.equal(failureOf('ECONNRESET'), 'reset');
  assert.equal(failureOf('UND_ERR_HEADERS_TIMEOUT'), 'timeout');
  assert.equal(failureOf('UND_ERR_INVALID_ARG'), 'request-fault');
  assert.equal(failureOf('EMFILE'), 'local');
  assert.equal(failureOf('anything'), 'other');
  assert.equal(problemFor('nothing-sent'), proxyErrors.connectFailure);
  assert.equal(problemFor('timeout'), proxyErrors.upstreamTimeout);
  assert.equal(problemFor('reset'), proxyErrors.upstreamReset);
  assert.equal(problemFor('local'), proxyErrors.localResources);
});

test('only failures that say something about the endpoint count against it', () => {
  assert.equal(reportsFailure('nothing-sent'), true);
  assert.equal(reportsFailure('reset'), true);
  assert.equal(reportsFailure('request-fault'), false);
  assert.equal(reportsFailure('local'), false);
});
