import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { test, type TestContext } from 'node:test';
import { register } from '../../src/client/register.js';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { createSwitchyard } from '../../src/main.js';
import {
  adminConfigWith,
  adminToken,
  capturedLogger,
  endpointsOf,
  eventually,
  readToken,
  spawnCli,
  startWithAdmin,
  type AdminSwitchyard,
} from './helpers/admin.js';
import { createTestCa, type TestCa } from './helpers/certs.js';
import { configWith, startOrigin, type Origin } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';

const appToken = 'reg-app-0123456789';
const bothToken = 'reg-both-0123456789';

/** Services `app` and `other`, the admin and read tokens, and registration tokens for `app` and for both. */
function rolesConfig(top: Record<string, unknown> = {}): SwitchyardConfigInput {
  const base = adminConfigWith([]);
  return {
    ...base,
    services: { app: { endpoints: [] }, other: { endpoints: [] } },
    admin: {
      address: '127.0.0.1:0',
      tokens: {
        admin: adminToken,
        read: readToken,
        register: [
          { token: appToken, services: ['app'] },
          { token: bothToken, services: ['app', 'other'] },
        ],
      },
    },
    ...top,
  };
}

async function balancer(t: TestContext, config: SwitchyardConfigInput, options = {}): Promise<AdminSwitchyard> {
  const lb = await startWithAdmin(config, options);
  t.after(() => lb.close());
  return lb;
}

async function origin(t: TestContext, name: string): Promise<Origin> {
  const started = await startOrigin(name);
  t.after(() => started.close());
  return started;
}

const endpoints = (service: string) => `/api/services/${service}/endpoints`;

test('a registration token registers, heartbeats and deregisters endpoints of its service and nothing else', async (t) => {
  const instance = await origin(t, 'instance');
  const capture = capturedLogger();
  const lb = await balancer(t, rolesConfig(), { logger: capture.logger });
  const as = { token: appToken };

  const created = await lb.api('POST', endpoints('app'), {
    ...as,
    body: { id: 'i1', url: instance.url, ttlSeconds: 30 },
  });
  assert.equal(created.status, 201, created.body);
  assert.equal((await lb.api('PUT', `${endpoints('app')}/i1/heartbeat`, as)).status, 200);
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => e.id),
    ['i1'],
  );

  // Everything else is 403 with a problem document: reads, state, weight, reload, the event stream, metrics.
  const forbidden: [string, string, unknown][] = [
    ['GET', '/api/services', undefined],
    ['GET', '/api/services/app', undefined],
    ['GET', '/api/overview', undefined],
    ['GET', '/metrics', undefined],
    ['GET', '/api/events', undefined],
    ['POST', '/api/session', undefined],
    ['PUT', `${endpoints('app')}/i1/state`, { state: 'drain' }],
    ['PUT', `${endpoints('app')}/i1/weight`, { weight: 5 }],
    ['POST', '/api/reload', undefined],
    // Another service's endpoints, even ones that exist.
    ['POST', endpoints('other'), { id: 'o1', url: instance.url }],
  ];
  assert.equal((await lb.api('POST', endpoints('other'), { body: { id: 'o1', url: instance.url } })).status, 201);
  forbidden.push(
    ['PUT', `${endpoints('other')}/o1/heartbeat`, undefined],
    ['DELETE', `${endpoints('other')}/o1`, undefined],
  );
  for (const [method, path, body] of forbidden) {
    const reply = await lb.api(method, path, { ...as, body });
    assert.equal(reply.status, 403, `${method} ${path}: ${reply.body}`);
    assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
    assert.equal((reply.json as { status: number }).status, 403);
  }
  const foreign = await lb.api('POST', endpoints('other'), { ...as, body: { id: 'o2', url: instance.url } });
  assert.match((foreign.json as { detail: string }).detail, /"app" only/);
  assert.deepEqual(
    (await endpointsOf(lb, 'other')).map((e) => [e.id, e.state, e.weight]),
    [['o1', 'ready', 1]],
    'nothing changed in the other service',
  );

  // A token listing both services may register in either; the read token may not register at all.
  assert.equal(
    (await lb.api('POST', endpoints('other'), { token: bothToken, body: { id: 'o3', url: instance.url } })).status,
    201,
  );
  assert.equal((await lb.api('POST', endpoints('app'), { token: readToken, body: { url: instance.url } })).status, 403);
  assert.equal((await lb.api('POST', endpoints('app'), { token: 'nope', body: { url: instance.url } })).status, 401);

  assert.equal((await lb.api('DELETE', `${endpoints('app')}/i1`, as)).status, 204);
  assert.deepEqual(await endpointsOf(lb), []);

  const audit = capture.lines().filter((line) => line['audit'] === true);
  const registration = audit.find((line) => line['method'] === 'POST' && line['status'] === 201);
  assert.equal(registration?.['role'], 'register');
  assert.ok(
    audit.some((line) => line['status'] === 403 && String(line['path']).endsWith('/o1')),
    'refused calls are audited',
  );
  for (const line of capture.lines()) assert.doesNotMatch(JSON.stringify(line), /reg-app|reg-both/, 'no token logged');
});

test('register() and switchyard register work with a registration token', async (t) => {
  const [a, b] = await Promise.all([origin(t, 'a'), origin(t, 'b')]);
  const lb = await balancer(t, rolesConfig());
  const handle = await register({ admin: lb.adminBase, token: appToken, service: 'app', url: a.url, ttl: '3s' });
  t.after(() => handle.close());
  await assert.rejects(
    register({ admin: lb.adminBase, token: appToken, service: 'other', url: a.url }),
    /registration refused: HTTP 403/,
  );

  const cli = spawnCli(['register', '--admin', lb.adminBase, '--service', 'app', '--url', b.url, '--ttl', '3s'], {
    SWITCHYARD_REGISTER_TOKEN: appToken,
    SWITCHYARD_ADMIN_TOKEN: '',
  });
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  await eventually('the CLI registered', () => cli.stdout.some((line) => line.includes('registered')), 15_000);
  assert.deepEqual((await endpointsOf(lb)).map((e) => e.url).sort(), [a.url, b.url].sort());
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0, cli.stderr());
  await handle.close();
  assert.deepEqual(await endpointsOf(lb), []);
});

test('admin.tokens.register refuses a token equal to another role and needs a service', async () => {
  const invalid = (register: unknown): Promise<unknown> =>
    createSwitchyard(rolesConfig({ admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, register } } }));
  await assert.rejects(invalid([{ token: adminToken, services: ['app'] }]), /tokens\.register\.0\.token: each token/);
  await assert.rejects(invalid([{ token: 'x', services: [] }]), /services: name at least one service/);
});

test('a registration token naming a service the configuration does not declare is warned about at start', async (t) => {
  const capture = capturedLogger();
  const lb = await balancer(
    t,
    rolesConfig({
      admin: {
        address: '127.0.0.1:0',
        tokens: { admin: adminToken, register: [{ token: 'g', services: ['app', 'ghost'] }] },
      },
    }),
    { logger: capture.logger },
  );
  const warning = capture.lines().find((line) => String(line['msg']).startsWith('a registration token names services'));
  assert.deepEqual(warning?.['services'], ['ghost']);
  assert.equal(
    (await lb.api('POST', endpoints('ghost'), { token: 'g', body: { url: 'http://127.0.0.1:9' } })).status,
    404,
  );
});

/** One request over https with the given trust and client certificate. */
function httpsCall(
  url: string,
  options: { method?: string; token?: string; ca?: string; cert?: string; key?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
        agent: false,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function testCa(t: TestContext, name: string): Promise<TestCa> {
  const ca = await createTestCa(name);
  t.after(() => ca.remove());
  return ca;
}

test('admin.tls serves the admin API over https; status, reload and register reach it with --ca', async (t) => {
  const ca = await testCa(t, 'Admin CA');
  const server = await ca.issue(['127.0.0.1'], 'admin');
  const instance = await origin(t, 'instance');
  const lb = await createSwitchyard(
    rolesConfig({
      admin: {
        address: '127.0.0.1:0',
        tls: { cert: server.certFile, key: server.keyFile },
        tokens: { admin: adminToken, read: readToken, register: [{ token: appToken, services: ['app'] }] },
      },
    }),
  );
  t.after(() => lb.close(2_000));
  const base = `https://127.0.0.1:${lb.address('admin').port}`;

  assert.equal((await httpsCall(`${base}/api/services`, { token: readToken, ca: ca.cert })).status, 200);
  await assert.rejects(
    httpsCall(`${base}/ping`),
    /self-signed|unable to verify|certificate/i,
    'untrusted without the CA',
  );

  const status = await runCli(['status', '--admin', base, '--token', readToken, '--ca', ca.certFile]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /SERVICE\s+ENDPOINT/);
  const viaEnv = await runCli(['status', '--admin', base, '--token', readToken], { SWITCHYARD_ADMIN_CA: ca.certFile });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const untrusted = await runCli(['status', '--admin', base, '--token', readToken], { SWITCHYARD_ADMIN_CA: '' });
  assert.equal(untrusted.code, 1);

  const reload = await runCli(['reload', '--admin', base, '--token', adminToken, '--ca', ca.certFile]);
  assert.equal(reload.code, 1, 'reached the API: it answers 409, nothing to reload');
  assert.match(reload.stderr, /409/);

  const cli = spawnCli(
    ['register', '--admin', base, '--token', appToken, '--ca', ca.certFile, '--service', 'app', '--url', instance.url],
    { SWITCHYARD_ADMIN_TOKEN: '' },
  );
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  await eventually('the CLI registered over https', () => cli.stdout.some((l) => l.includes('registered')), 15_000);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0, cli.stderr());

  const handle = await register({
    admin: base,
    token: appToken,
    service: 'app',
    url: instance.url,
    tls: { ca: ca.cert },
  });
  const listed = await httpsCall(`${base}/api/services/app`, { token: readToken, ca: ca.cert });
  assert.match(listed.body, new RegExp(`"url": "${instance.url}"`));
  await handle.close();
});

test('admin.tls.clientCa requires a client certificate from that CA (mTLS), and the audit line names it', async (t) => {
  const serverCa = await testCa(t, 'Admin CA');
  const clientCa = await testCa(t, 'Instances CA');
  const stranger = await testCa(t, 'Someone else');
  const server = await serverCa.issue(['127.0.0.1'], 'admin');
  const client = await clientCa.issue(['instance-1'], 'instance-1');
  const foreign = await stranger.issue(['intruder'], 'intruder');
  const instance = await origin(t, 'instance');
  const capture = capturedLogger();
  const lb = await createSwitchyard(
    rolesConfig({
      admin: {
        address: '127.0.0.1:0',
        tls: { cert: server.certFile, key: server.keyFile, clientCa: clientCa.certFile },
        tokens: { admin: adminToken, register: [{ token: appToken, services: ['app'] }] },
      },
    }),
    { logger: capture.logger },
  );
  t.after(() => lb.close(2_000));
  const base = `https://127.0.0.1:${lb.address('admin').port}`;
  const trust = { ca: serverCa.cert, token: adminToken };

  await assert.rejects(httpsCall(`${base}/api/services`, trust), 'no client certificate: no connection');
  await assert.rejects(httpsCall(`${base}/api/services`, { ...trust, cert: foreign.cert, key: foreign.key }));
  const ok = await httpsCall(`${base}/api/services`, { ...trust, cert: client.cert, key: client.key });
  assert.equal(ok.status, 200);

  const handle = await register({
    admin: base,
    token: appToken,
    service: 'app',
    url: instance.url,
    tls: { ca: serverCa.cert, cert: client.cert, key: client.key },
  });
  await handle.close();
  const registered = capture.lines().find((line) => line['audit'] === true && line['status'] === 201);
  assert.equal(registered?.['clientCertificate'], 'instance-1');

  const status = await runCli(['status', '--admin', base, '--token', adminToken, '--ca', serverCa.certFile], {
    SWITCHYARD_ADMIN_CERT: client.certFile,
    SWITCHYARD_ADMIN_KEY: client.keyFile,
  });
  assert.equal(status.code, 0, status.stderr);
  const refused = await runCli(['status', '--admin', base, '--token', adminToken, '--ca', serverCa.certFile]);
  assert.equal(refused.code, 1);
  await eventually('the refused handshake is logged', () =>
    capture.lines().some((line) => line['msg'] === 'admin TLS handshake failed'),
  );
});

test('admin.allowedClients answers 403 to clients outside the listed networks', async (t) => {
  const refusedLb = await balancer(t, {
    ...configWith([]),
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken }, allowedClients: ['10.0.0.0/8', 'fd00::/8'] },
  });
  for (const path of ['/api/services', '/ping', '/ready', '/dashboard/']) {
    const reply = await refusedLb.api('GET', path);
    assert.equal(reply.status, 403, path);
    assert.match((reply.json as { detail: string }).detail, /127\.0\.0\.1 is not in admin\.allowedClients/);
  }
  const allowedLb = await balancer(t, {
    ...configWith([]),
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken }, allowedClients: ['10.0.0.0/8', '127.0.0.0/8'] },
  });
  assert.equal((await allowedLb.api('GET', '/api/services')).status, 200);
  assert.equal((await allowedLb.api('GET', '/api/services', { token: null })).status, 401, 'and still needs a token');
  await assert.rejects(
    createSwitchyard({ ...configWith([]), admin: { address: '127.0.0.1:0', allowedClients: ['10.0.0.0/33'] } }),
    /allowedClients\.0: expected an IP address or CIDR/,
  );
});
