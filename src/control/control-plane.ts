import type { SwitchyardConfig } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Snapshot } from '../core/snapshot.js';
import { buildSnapshot } from './snapshot.js';

/** Where the control plane hands its snapshots: the data plane's `apply`, in-process or over IPC. */
export type SnapshotSink = (snapshot: Snapshot) => Promise<void>;

/**
 * The control plane: owns the configuration (and, later, the registry and health state), builds a new immutable
 * snapshot whenever any of it changes, and publishes it to the data plane through one sink.
 */
export class ControlPlane {
  readonly #sink: SnapshotSink;
  readonly #log: Logger;
  #config: SwitchyardConfig;
  #version = 0;

  constructor(config: SwitchyardConfig, sink: SnapshotSink, log: Logger) {
    this.#config = config;
    this.#sink = sink;
    this.#log = log;
  }

  /** The configuration in force. */
  get config(): SwitchyardConfig {
    return this.#config;
  }

  /** Publishes the first snapshot. */
  async start(): Promise<void> {
    await this.#publish();
  }

  /** Replaces the configuration (already validated) and publishes the snapshot built from it. */
  async setConfig(config: SwitchyardConfig): Promise<void> {
    const previous = this.#config;
    this.#config = config;
    try {
      await this.#publish();
    } catch (error) {
      this.#config = previous;
      throw error;
    }
  }

  async #publish(): Promise<void> {
    const snapshot = buildSnapshot(this.#config, this.#version + 1);
    await this.#sink(snapshot);
    this.#version = snapshot.version;
    this.#log.debug({ version: snapshot.version }, 'snapshot published');
  }
}
