import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The admin token file (docs/security.md "Defaults"). When `switchyard start --listen … --to …` or `switchyard demo`
 * opens an admin API without a token given, it makes a random one, prints it, and writes it to
 * `$XDG_RUNTIME_DIR/switchyard/admin-<port>.token` (or `~/.switchyard/admin-<port>.token` when XDG_RUNTIME_DIR is not
 * set): a directory of mode 0700 and a file of mode 0600, so only the same user can read it. `switchyard status`,
 * `reload` and `register` read it when they talk to a loopback admin URL with that port and no token was given. The
 * file is removed when the balancer stops.
 */

/** The directory token files live in. */
export function tokenDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env['XDG_RUNTIME_DIR'];
  return runtime !== undefined && runtime !== '' ? join(runtime, 'switchyard') : join(homedir(), '.switchyard');
}

/** The token file of the admin API listening on `port`. */
export function tokenFilePath(port: number, env: NodeJS.ProcessEnv = process.env): string {
  return join(tokenDirectory(env), `admin-${port}.token`);
}

/** A new random admin token: 24 random bytes, base64url (32 characters). */
export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

/** A token file written by this process; `remove()` deletes it unless another process replaced it meanwhile. */
export interface AdminTokenFile {
  readonly path: string;
  remove(): Promise<void>;
}

/** Writes `token` for the admin API on `port` (directory 0700, file 0600, atomically) and returns the file. */
export async function writeAdminToken(
  port: number,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AdminTokenFile> {
  const directory = tokenDirectory(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  // An existing directory keeps its mode: make sure nobody else can list or replace files in it.
  await chmod(directory, 0o700);
  const path = tokenFilePath(port, env);
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(`${token}\n`);
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  return {
    path,
    async remove() {
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current?.trim() === token) await unlink(path).catch(() => undefined);
    },
  };
}

/** Why a token file was not used, for the command's message. */
export type TokenFileProblem = { readonly path: string; readonly reason: string };

/**
 * The token in the file for `adminUrl`, when that URL is a loopback one (the file is for this machine's balancers
 * only: it is never sent anywhere else) and the file exists, belongs to this user and nobody else can read it.
 */
export function findAdminToken(
  adminUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): { readonly token?: string; readonly problem?: TokenFileProblem } {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    return {};
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host !== 'localhost' && host !== '::1' && !/^127\.\d+\.\d+\.\d+$/.test(host)) return {};
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const path = tokenFilePath(port, env);
  try {
    const stat = statSync(path);
    if (typeof process.getuid === 'function' && stat.uid !== process.getuid())
      return { problem: { path, reason: 'it belongs to another user' } };
    // Windows has no such mode bits (its ACLs keep a user's profile private): the check is for POSIX systems.
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0)
      return { problem: { path, reason: 'other users can read it (chmod 600 it)' } };
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? {} : { token };
  } catch {
    return {};
  }
}

/**
 * The token a client command uses: `--token`, else the environment variables in order (`SWITCHYARD_ADMIN_TOKEN`;
 * `register` looks at `SWITCHYARD_REGISTER_TOKEN` first), else the token file for `adminUrl`. Empty values count as
 * unset. A token file that is not safe to use is reported through `warn` and ignored.
 */
export function resolveAdminToken(
  flag: string | undefined,
  variables: readonly string[],
  adminUrl: string,
  warn: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  for (const name of variables) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  const found = findAdminToken(adminUrl, env);
  if (found.problem !== undefined) warn(`not using the token file ${found.problem.path}: ${found.problem.reason}`);
  return found.token;
}

/**
 * Publishes a generated token for the admin API on `port`: writes the token file, prints the token and the file's
 * path on stderr (not in the JSON log, which is often shipped elsewhere), and logs where the file is. A file that
 * cannot be written is a warning: the printed token still works.
 */
export async function publishAdminToken(
  adminUrl: string,
  port: number,
  token: string,
  log: { info(details: object, message: string): void; warn(details: object, message: string): void },
): Promise<AdminTokenFile | undefined> {
  let file: AdminTokenFile | undefined;
  try {
    file = await writeAdminToken(port, token);
  } catch (error) {
    log.warn({ err: error, file: tokenFilePath(port) }, 'cannot write the admin token file');
  }
  const where =
    file === undefined
      ? ''
      : `\n  (kept in ${file.path}, readable by you only; switchyard status, reload and register read it)`;
  process.stderr.write(`switchyard: admin API ${adminUrl} token: ${token}${where}\n`);
  if (file !== undefined) log.info({ tokenFile: file.path, admin: adminUrl }, 'admin token written');
  return file;
}
