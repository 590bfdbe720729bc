import type { EndpointId } from './endpoint.js';

/**
 * What the data plane tells the control plane about real traffic. The data plane reports facts; the control plane
 * decides what they mean (Envoy's outlier model). In one process this is a direct call; with workers it crosses IPC.
 */
export interface FactSink {
  /**
   * An upstream exchange with the endpoint ended in a gateway error (connect failure, reset, timeout, or a
   * 502/503/504 from the instance); `consecutiveErrors` is the endpoint's current streak in this process.
   */
  upstreamFailure(service: string, endpoint: EndpointId, consecutiveErrors: number): void;
}

/** A sink that ignores everything (the data plane alone, in unit tests). */
export const ignoreFacts: FactSink = { upstreamFailure: () => undefined };
