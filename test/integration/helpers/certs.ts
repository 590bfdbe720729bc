import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** A throwaway certificate authority for one test, with files in a temporary directory. */
export interface TestCa {
  readonly dir: string;
  readonly cert: string;
  readonly certFile: string;
  /** Issues a certificate for `names` signed by this CA; returns its PEM texts and file paths. */
  issue(
    names: readonly string[],
    file?: string,
  ): Promise<{ cert: string; key: string; certFile: string; keyFile: string }>;
  remove(): Promise<void>;
}

export async function createTestCa(name = 'Switchyard Test CA'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ca-'));
  const ca = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    days: 30,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  } as Parameters<typeof generate>[1]);
  const certFile = join(dir, 'ca.pem');
  await writeFile(certFile, ca.cert);
  let serial = 0;
  return {
    dir,
    cert: ca.cert,
    certFile,
    async issue(names, file = `cert-${++serial}`) {
      const pems = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        days: 30,
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          {
            name: 'subjectAltName',
            altNames: names.map((n) => (/^[\d.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
          },
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        ],
      } as Parameters<typeof generate>[1]);
      const certPath = join(dir, `${file}.pem`);
      const keyPath = join(dir, `${file}.key`);
      await writeFile(keyPath, pems.private);
      await writeFile(certPath, pems.cert);
      return { cert: pems.cert, key: pems.private, certFile: certPath, keyFile: keyPath };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
