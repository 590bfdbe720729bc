import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SwitchyardError } from '../../core/errors.js';
import { MemoryStore } from './memory-store.js';
import { registryKey, type Registration, type RegistryData } from './registry-store.js';

/** The file format's version, so that a later Switchyard can read (or refuse) an older file knowingly. */
const formatVersion = 1;

/**
 * The embedded default store: one JSON file, rewritten atomically (write a temporary file, fsync, rename over the
 * old one, fsync the directory) so that a crash mid-write leaves either the old or the new content, never a torn
 * file. Every change that matters after a restart (a registration, a deregistration, a state or weight change, an
 * override) is on disk before the call resolves, so before the admin API answers. Writes are coalesced: while one is
 * in flight, later changes are written once after it.
 *
 * A heartbeat is not such a change: it moves a lease's expiry (and may carry a load), both facts of the moment. The
 * registry restarts every lease from its TTL when it loads the file, so the expiry on disk is never read back. A
 * registration that differs from the stored one only in `leaseExpiresAt`, `load` and `loadReportedAt` is therefore
 * kept in memory and reaches the file with the next real change: heartbeats write nothing.
 */
export class FileStore extends MemoryStore {
  readonly #path: string;
  #writing: Promise<void> | undefined;
  #dirty = false;

  constructor(path: string) {
    super();
    this.#path = path;
  }

  override async load(): Promise<RegistryData> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.data();
      throw error;
    }
    const data = parseRegistryFile(text, this.#path);
    for (const registration of data.registrations) {
      this.registrations.set(registryKey(registration.service, registration.id), registration);
    }
    for (const override of data.overrides) this.overrides.set(registryKey(override.service, override.id), override);
    return this.data();
  }

  override putRegistration(registration: Registration): Promise<void> {
    const key = registryKey(registration.service, registration.id);
    const stored = this.registrations.get(key);
    if (stored === undefined || durableFields(stored) !== durableFields(registration))
      return super.putRegistration(registration);
    this.registrations.set(key, registration);
    return Promise.resolve();
  }

  override async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  protected override changed(): Promise<void> {
    this.#dirty = true;
    this.#writing ??= this.#flush().finally(() => (this.#writing = undefined));
    return this.#writing;
  }

  async #flush(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      await writeAtomically(this.#path, `${JSON.stringify({ version: formatVersion, ...this.data() }, null, 2)}\n`);
    }
  }
}

async function writeAtomically(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Makes the rename itself durable (a power cut after it could otherwise bring the old file back). */
async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

/** What of a registration must survive a restart: everything but the lease's expiry and the last reported load. */
function durableFields(registration: Registration): string {
  const { leaseExpiresAt: _lease, load: _load, loadReportedAt: _at, ...durable } = registration;
  return JSON.stringify(durable);
}

/** Reads a registry file; anything unexpected is a loud error naming the file (it is never treated as empty). */
export function parseRegistryFile(text: string, path: string): RegistryData {
  const corrupt = (why: string): SwitchyardError =>
    new SwitchyardError(
      `registry file ${path} is unreadable (${why}); fix it or move it away to start with no registrations`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw corrupt((error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null) throw corrupt('not a JSON object');
  const { version, registrations, overrides } = parsed as Record<string, unknown>;
  if (version !== formatVersion) throw corrupt(`format version ${String(version)}, expected ${formatVersion}`);
  if (!Array.isArray(registrations) || !Array.isArray(overrides)) throw corrupt('registrations or overrides missing');
  for (const entry of [...(registrations as unknown[]), ...(overrides as unknown[])]) {
    const record = entry as Record<string, unknown> | null;
    if (typeof record?.['service'] !== 'string' || typeof record['id'] !== 'string')
      throw corrupt('an entry lacks service or id');
  }
  for (const entry of registrations as Record<string, unknown>[]) {
    if (typeof entry['url'] !== 'string' || typeof entry['weight'] !== 'number')
      throw corrupt(`entry ${String(entry['id'])} lacks url or weight`);
  }
  return parsed as RegistryData;
}
