import type { AddressInfo } from 'node:net';
import { configSchema, type SwitchyardConfig, type SwitchyardConfigInput } from './config/schema.js';
import { ControlPlane } from './control/control-plane.js';
import { SwitchyardError } from './core/errors.js';
import { silentLogger, type Logger } from './core/log.js';
import { DataPlane } from './data/data-plane.js';

/** Options of `createSwitchyard` beyond the configuration itself. */
export interface SwitchyardOptions {
  /** Process log (pino); silent by default for library use. */
  readonly logger?: Logger;
}

/** A running balancer, as returned by `createSwitchyard`. */
export interface Switchyard {
  /** The bound address of a listener by name (the real port when the config said port 0). */
  address(listener: string): AddressInfo;
  /** Validates and applies a new configuration atomically; an invalid one throws and changes nothing. */
  apply(config: SwitchyardConfigInput): Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish within `deadlineMs` (default 30 s), then closes everything.
   * Resolves true when the deadline forced connections closed.
   */
  close(deadlineMs?: number): Promise<boolean>;
}

/** The default drain deadline (CONTRACT.md §2). */
export const defaultDrainDeadlineMs = 30_000;

/**
 * Validates a configuration (an object shaped like the YAML file) and starts a balancer in this process.
 * The composition root: the only place that wires the control plane to the data plane.
 */
export async function createSwitchyard(
  config: SwitchyardConfigInput,
  options: SwitchyardOptions = {},
): Promise<Switchyard> {
  const log = options.logger ?? silentLogger();
  const dataPlane = new DataPlane(log);
  const control = new ControlPlane(validate(config), (snapshot) => dataPlane.apply(snapshot), log);
  try {
    await control.start();
  } catch (error) {
    await dataPlane.close(0);
    throw error;
  }
  let closing: Promise<boolean> | undefined;
  return {
    address(listener) {
      const address = dataPlane.address(listener);
      if (address === undefined) throw new SwitchyardError(`no listener named "${listener}"`);
      return address;
    },
    async apply(next) {
      await control.setConfig(validate(next));
    },
    close(deadlineMs = defaultDrainDeadlineMs) {
      closing ??= dataPlane.close(deadlineMs);
      return closing;
    },
  };
}

function validate(input: SwitchyardConfigInput): SwitchyardConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new SwitchyardError(`invalid configuration:\n${lines.join('\n')}`);
}
