import { readFileSync } from 'node:fs';

/** The package version, read from package.json (two levels up from both src/cli and dist/cli). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** `switchyard version`: the versions a bug report needs. */
export function versionText(): string {
  return `switchyard ${packageVersion()} (node ${process.version}, ${process.platform}-${process.arch})`;
}
