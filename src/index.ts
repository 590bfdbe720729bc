/**
 * Switchyard's library API: `createSwitchyard(config)` starts a balancer in-process; the CLI is a thin wrapper
 * over it. Configuration files are read with `loadConfigFile`.
 */
export { createSwitchyard, defaultDrainDeadlineMs, type Switchyard, type SwitchyardOptions } from './main.js';
export { register, parseDuration, type RegisterOptions, type RegistrationHandle } from './client/register.js';
export {
  loadConfigFile,
  parseConfigText,
  formatProblem,
  type ConfigProblem,
  type ConfigResult,
} from './config/load-file.js';
export {
  configSchema,
  type SwitchyardConfig,
  type SwitchyardConfigInput,
  type ListenerConfig,
  type RouteConfig,
  type ServiceConfig,
  type EndpointConfig,
  type Algorithm,
} from './config/schema.js';
export type { Endpoint, EndpointId, AdminState } from './core/endpoint.js';
export type { Balancer, PickContext, LoadGauge, BalancerFactory } from './data/balancing/balancer.js';
