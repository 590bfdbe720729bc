import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * A CommonJS package loaded on first use instead of at start: etcd3 (with gRPC and protobufjs) and acme-client are
 * large, and a balancer on the file store without ACME should never pay their start-up time, memory or open files.
 * The package is loaded once; later calls return the same module.
 */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(name) as T);
}
