import type { MetricDefinition } from './metric-definition.js';

/** What overload protection refused, by reason (the `reason` label), in the order of docs/metrics.md. */
const rejectionReasons = [
  ['shed', 'shed'],
  ['queue_full', 'queueFull'],
  ['queue_timeout', 'queueTimeout'],
  ['rate_limited', 'rateLimited'],
  ['connection_limit', 'connections'],
] as const;

/** The overload metrics (docs/metrics.md, docs/operations.md): refusals by reason, the event loop's lag, shedding. */
export const overloadMetrics: readonly MetricDefinition[] = [
  {
    name: 'switchyard_overload_rejections_total',
    type: 'counter',
    help: 'Requests and connections refused by overload protection, by reason (shed, queue_full, queue_timeout, rate_limited, connection_limit).',
    labelNames: ['reason'],
    *samples({ traffic }) {
      const overload = traffic.overload;
      for (const [reason, field] of rejectionReasons) yield [{ reason }, overload?.[field] ?? 0];
    },
  },
  {
    name: 'switchyard_event_loop_lag_seconds',
    type: 'gauge',
    help: 'The event loop lag overload shedding measured over its last window, in seconds (the worst worker).',
    labelNames: [],
    *samples({ traffic }) {
      yield [{}, traffic.overload?.lagSeconds ?? 0];
    },
  },
  {
    name: 'switchyard_overload_shedding',
    type: 'gauge',
    help: '1 while new requests are shed because the event loop lags, else 0.',
    labelNames: [],
    *samples({ traffic }) {
      yield [{}, traffic.overload?.shedding === true ? 1 : 0];
    },
  },
];
