import type { EndpointId } from '../../core/endpoint.js';
import {
  registryKey,
  type Override,
  type Registration,
  type RegistryData,
  type RegistryStore,
} from './registry-store.js';

/** A store that keeps everything in this process only (lost on restart): for tests and throwaway setups. */
export class MemoryStore implements RegistryStore {
  protected readonly registrations = new Map<string, Registration>();
  protected readonly overrides = new Map<string, Override>();

  load(): Promise<RegistryData> {
    return Promise.resolve(this.data());
  }

  putRegistration(registration: Registration): Promise<void> {
    this.registrations.set(registryKey(registration.service, registration.id), registration);
    return this.changed();
  }

  removeRegistration(service: string, id: EndpointId): Promise<void> {
    this.registrations.delete(registryKey(service, id));
    return this.changed();
  }

  putOverride(override: Override): Promise<void> {
    this.overrides.set(registryKey(override.service, override.id), override);
    return this.changed();
  }

  removeOverride(service: string, id: EndpointId): Promise<void> {
    this.overrides.delete(registryKey(service, id));
    return this.changed();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The whole content, sorted so that the same content always serialises the same way. */
  protected data(): RegistryData {
    const byKey = <T extends { service: string; id: string }>(a: T, b: T): number =>
      a.service.localeCompare(b.service) || a.id.localeCompare(b.id);
    return {
      registrations: [...this.registrations.values()].sort(byKey),
      overrides: [...this.overrides.values()].sort(byKey),
    };
  }

  /** Called after every change; a persistent subclass writes here. */
  protected changed(): Promise<void> {
    return Promise.resolve();
  }
}
