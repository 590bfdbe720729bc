import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findAdminToken, resolveAdminToken, tokenFilePath, writeAdminToken } from './admin-token.js';

test('a token file is found for loopback admin URLs of its port only, never for another host', async (t) => {
  const runtime = await mkdtemp(join(tmpdir(), 'switchyard-token-'));
  t.after(() => rm(runtime, { recursive: true, force: true }));
  const env = { XDG_RUNTIME_DIR: runtime };
  const file = await writeAdminToken(9911, 'secret-1', env);
  assert.equal(file.path, tokenFilePath(9911, env));
  assert.equal((await stat(file.path)).mode & 0o777, 0o600);
  for (const url of ['http://127.0.0.1:9911', 'https://localhost:9911/', 'http://[::1]:9911', 'http://127.1.2.3:9911'])
    assert.equal(findAdminToken(url, env).token, 'secret-1', url);
  for (const url of ['http://10.0.0.5:9911', 'http://lb.example.com:9911', 'http://127.0.0.1:9912', 'not a url'])
    assert.equal(findAdminToken(url, env).token, undefined, url);
  await file.remove();
  assert.equal(findAdminToken('http://127.0.0.1:9911', env).token, undefined);
});

test('--token wins over the environment, which wins over the token file; empty values count as unset', async (t) => {
  const runtime = await mkdtemp(join(tmpdir(), 'switchyard-token-'));
  t.after(() => rm(runtime, { recursive: true, force: true }));
  const base = { XDG_RUNTIME_DIR: runtime };
  await writeAdminToken(9921, 'from-file', base);
  const url = 'http://127.0.0.1:9921';
  const names = ['SWITCHYARD_REGISTER_TOKEN', 'SWITCHYARD_ADMIN_TOKEN'];
  const resolve = (flag: string | undefined, env: NodeJS.ProcessEnv) =>
    resolveAdminToken(flag, names, url, () => undefined, { ...base, ...env });
  assert.equal(resolve('flag', { SWITCHYARD_ADMIN_TOKEN: 'env' }), 'flag');
  assert.equal(resolve(undefined, { SWITCHYARD_ADMIN_TOKEN: 'admin', SWITCHYARD_REGISTER_TOKEN: 'reg' }), 'reg');
  assert.equal(resolve(undefined, { SWITCHYARD_ADMIN_TOKEN: 'admin', SWITCHYARD_REGISTER_TOKEN: '' }), 'admin');
  assert.equal(resolve('', { SWITCHYARD_ADMIN_TOKEN: '' }), 'from-file');
});
