import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AcmeConfig } from '../../config/schema.js';

/** A stored certificate: its PEM chain (leaf first) and key. */
export interface StoredCertificate {
  readonly cert: string;
  readonly key: string;
}

/**
 * The ACME folder (`acme.storage`): `account.key`, and per certificate `certificates/<id>/key.pem` and `cert.pem`.
 * The folders are mode 0700 and the files 0600, written to a temporary name and renamed, so a crash never leaves
 * half a key. Keys are made once and reused: the account's across restarts, a certificate's across its renewals.
 */
export class AcmeStorage {
  readonly #folder: string;
  readonly #keyType: AcmeConfig['keyType'];

  constructor(folder: string, keyType: AcmeConfig['keyType']) {
    this.#folder = folder;
    this.#keyType = keyType;
  }

  /** The account key (ECDSA P-256), made on first use. */
  accountKey(): Promise<string> {
    return this.#keyAt(join(this.#folder, 'account.key'), 'ecdsa-p256');
  }

  /** The key of certificate `id`, made on first use. */
  certificateKey(id: string): Promise<string> {
    return this.#keyAt(join(this.#certificateFolder(id), 'key.pem'), this.#keyType);
  }

  /** The stored certificate `id`, or undefined when there is none yet. */
  async readCertificate(id: string): Promise<StoredCertificate | undefined> {
    const folder = this.#certificateFolder(id);
    try {
      const [cert, key] = await Promise.all([
        readFile(join(folder, 'cert.pem'), 'utf8'),
        readFile(join(folder, 'key.pem'), 'utf8'),
      ]);
      return { cert, key };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Stores an issued chain beside its key (`key`: one another node of the fleet made, replacing this one's). */
  async writeCertificate(id: string, cert: string, key?: string): Promise<void> {
    if (key !== undefined) await writePrivate(join(this.#certificateFolder(id), 'key.pem'), key);
    await writePrivate(join(this.#certificateFolder(id), 'cert.pem'), cert);
  }

  #certificateFolder(id: string): string {
    return join(this.#folder, 'certificates', id);
  }

  async #keyAt(file: string, type: AcmeConfig['keyType']): Promise<string> {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { privateKey } =
      type === 'rsa-2048'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writePrivate(file, pem);
    return pem;
  }
}

/** The folder name of a certificate: its first domain and a hash of all of them (and of its listener). */
export function certificateId(listener: string, domains: readonly string[]): string {
  const hash = createHash('sha256')
    .update(`${listener}\n${[...domains].sort().join('\n')}`)
    .digest('hex');
  return `${domains[0]!.toLowerCase()}-${hash.slice(0, 10)}`;
}

async function writePrivate(file: string, content: string): Promise<void> {
  const folder = join(file, '..');
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}
