import type { MetricDefinition } from './metric-definition.js';

/** The metrics of a fleet node on etcd (docs/fleet.md, docs/metrics.md); absent with a local store. */
export const fleetMetrics: readonly MetricDefinition[] = [
  {
    name: 'switchyard_registry_up',
    type: 'gauge',
    help: '1 while the shared registry store (etcd) is reachable; 0 while the node serves the last state it saw.',
    labelNames: [],
    *samples({ registry }) {
      if (registry !== undefined) yield [{}, registry.up ? 1 : 0];
    },
  },
  {
    name: 'switchyard_registry_revision',
    type: 'gauge',
    help: 'The shared store revision this node has applied.',
    labelNames: [],
    *samples({ registry }) {
      if (registry !== undefined) yield [{}, registry.revision];
    },
  },
  {
    name: 'switchyard_registry_resyncs_total',
    type: 'counter',
    help: 'Resyncs with the shared store: "reconnected" resumed the watch from its revision; "compacted" and "watch_error" re-listed and applied the difference.',
    labelNames: ['reason'],
    *samples({ registry }) {
      if (registry === undefined) return;
      for (const [reason, count] of Object.entries(registry.resyncs)) yield [{ reason }, count];
    },
  },
  {
    name: 'switchyard_self_preservation_active',
    type: 'gauge',
    help: '1 while a service keeps endpoints whose leases expired en masse (self-preservation), else 0.',
    labelNames: ['service'],
    *samples({ registry }) {
      if (registry === undefined) return;
      for (const service of new Set([...registry.services, ...registry.preserving]))
        yield [{ service }, registry.preserving.includes(service) ? 1 : 0];
    },
  },
  {
    name: 'switchyard_fleet_nodes',
    type: 'gauge',
    help: 'Nodes of the fleet this node sees announced (itself included).',
    labelNames: [],
    *samples({ registry }) {
      if (registry !== undefined) yield [{}, registry.nodes];
    },
  },
];
