import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SwitchyardError } from '../../core/errors.js';
import { MemoryStore } from './memory-store.js';
import { registryKey, type RegistryData } from './registry-store.js';

/** The file format's version, so that a later Switchyard can read (or refuse) an older file knowingly. */
const formatVersion = 1;

/**
 * The embedded default store: one JSON file, rewritten atomically (write a temporary file, fsync, rename over the
 * old one) so that a crash mid-write leaves either the old or the new content, never a torn file. Writes are
 * coalesced: while one is in flight, later changes are written once after it.
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
