import type { SwitchyardConfig } from '../../config/schema.js';
import { SwitchyardError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { EtcdStore } from './etcd-store.js';
import { FileStore } from './file-store.js';
import { MemoryStore } from './memory-store.js';
import type { RegistryStore } from './registry-store.js';

/** The store `registry.store` names: the file (the embedded default), memory, or the fleet's etcd. */
export function createRegistryStore(config: SwitchyardConfig, log: Logger): RegistryStore {
  const registry = config.registry;
  if (registry.store === 'file') return new FileStore(registry.path);
  if (registry.store === 'memory') return new MemoryStore();
  if (registry.etcd === undefined) throw new SwitchyardError('registry.store etcd needs registry.etcd');
  try {
    return new EtcdStore(registry.etcd, log);
  } catch (error) {
    // Unreadable TLS files, mostly.
    throw new SwitchyardError(`registry.etcd: ${(error as Error).message}`);
  }
}
