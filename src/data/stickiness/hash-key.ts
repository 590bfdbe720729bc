import type { BalancingConfig } from '../../core/snapshot.js';
import type { RequestHead } from '../downstream/client-address.js';
import { presentedKey } from './sticky-keys.js';

/** Reads a request's hash key for `consistent-hash`; compiled once per snapshot from `balancing.hashKey`. */
export type HashKeyReader = (rawHeaders: readonly string[], head: RequestHead, path: string) => string | undefined;

export function hashKeyReader(key: BalancingConfig['hashKey']): HashKeyReader {
  const read = rawReader(key);
  // An empty value is no key (it would send every such request to one endpoint).
  return (raw, head, path) => {
    const value = read(raw, head, path);
    return value === '' ? undefined : value;
  };
}

function rawReader(key: BalancingConfig['hashKey']): HashKeyReader {
  const name = key.name ?? '';
  switch (key.source) {
    case 'client-ip':
      return (_raw, head) => head.clientIp;
    case 'path':
      return (_raw, _head, path) => {
        const query = path.indexOf('?');
        return query === -1 ? path : path.slice(0, query);
      };
    case 'header': {
      const lower = name.toLowerCase();
      return (raw) => {
        for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) return raw[i + 1];
        return undefined;
      };
    }
    case 'cookie':
      return (raw) => presentedKey(raw, name, '');
    case 'query':
      return (_raw, _head, path) => {
        const query = path.indexOf('?');
        return query === -1 ? undefined : (new URLSearchParams(path.slice(query + 1)).get(name) ?? undefined);
      };
  }
}
