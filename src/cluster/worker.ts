import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { createLogger, type LogFormat } from '../core/log.js';
import type { Snapshot } from '../core/snapshot.js';
import { DataPlane } from '../data/data-plane.js';
import { reopenAccessLogs } from '../observability/access-log.js';
import {
  isSwitchyardMessage,
  type EndpointCountersReport,
  type PrimaryMessage,
  type WorkerMessage,
  type WorkerReport,
} from './messages.js';

/** How long a drained worker stays alive to refuse connections still being handed to it (see `drain`). */
const handoffGraceMs = 500;

/** Environment variable through which the primary passes its log format to the workers. */
export const workerLogFormatEnv = 'SWITCHYARD_WORKER_LOG_FORMAT';

/**
 * A cluster worker: one data plane that learns everything from the snapshots the primary sends, reports passive-health
 * facts back, answers report requests, and drains when told to. Stop signals are the primary's to coordinate (Ctrl-C
 * reaches the whole process group): a worker ignores them, and exits when the primary goes away.
 */
export function runWorker(): void {
  const format = process.env[workerLogFormatEnv] === 'pretty' ? 'pretty' : 'json';
  const log = createLogger({ format: format satisfies LogFormat }).child({
    worker: cluster.worker?.id,
    pid: process.pid,
  });
  const send = (message: WorkerMessage, then?: () => void): void => {
    if (!process.connected || process.send === undefined) return;
    process.send(message, undefined, {}, (error: Error | null) => {
      if (error !== null) log.debug({ err: error }, 'message to the primary lost');
      then?.();
    });
  };
  const dataPlane = new DataPlane(log, {
    upstreamFailure: (service, endpoint, consecutiveErrors) =>
      send({ sy: 'fact', fact: 'upstreamFailure', service, endpoint, consecutiveErrors }),
  });
  let current: Snapshot | undefined;
  let applying: Promise<void> = Promise.resolve();
  let draining = false;

  const report = (): WorkerReport => ({
    traffic: dataPlane.traffic(),
    certificates: dataPlane.certificates(),
    endpoints: endpointCounters(dataPlane, current),
  });

  const apply = async (seq: number, snapshot: Snapshot): Promise<void> => {
    try {
      await dataPlane.apply(snapshot);
      current = snapshot;
      const addresses: Record<string, AddressInfo> = {};
      for (const listener of snapshot.listeners) {
        const bound = dataPlane.address(listener.name);
        if (bound !== undefined) addresses[listener.name] = bound;
      }
      send({ sy: 'applied', seq, version: snapshot.version, addresses });
    } catch (error) {
      const { message, code } = error as NodeJS.ErrnoException;
      send({ sy: 'apply-failed', seq, message, ...(code === undefined ? {} : { code }) });
    }
  };

  const drain = async (deadlineMs: number): Promise<void> => {
    if (draining) return;
    draining = true;
    await applying;
    const forced = await dataPlane.close(deadlineMs);
    log.info({ forced }, 'worker drained');
    // The primary may have handed this worker a connection just before it learnt the listeners closed. Alive, the
    // worker refuses it and the primary gives it to another worker; exited, the connection would be lost (the client
    // waits until its own timeout). A short wait lets such hand-offs be answered.
    await new Promise((resolve) => setTimeout(resolve, handoffGraceMs));
    // Exit once the primary has the final report (or the channel is gone).
    send({ sy: 'drained', forced, report: report() }, () => process.exit(forced ? 3 : 0));
    if (!process.connected) process.exit(forced ? 3 : 0);
  };

  process.on('message', (message: unknown) => {
    if (!isSwitchyardMessage<PrimaryMessage>(message)) return;
    switch (message.sy) {
      case 'apply':
        if (draining) return;
        applying = applying.then(() => apply(message.seq, message.snapshot));
        return;
      case 'acme':
        dataPlane.acme(message.material).then(
          () => send({ sy: 'acme-applied', seq: message.seq }),
          (error: unknown) => {
            log.error({ err: error }, 'ACME material not applied');
            send({ sy: 'acme-applied', seq: message.seq });
          },
        );
        return;
      case 'report':
        send({ sy: 'report', seq: message.seq, report: report() });
        return;
      case 'drain':
        void drain(message.deadlineMs);
        return;
      case 'reopen-logs':
        reopenAccessLogs();
        return;
    }
  });
  // SIGUSR1 too: without a listener Node would open its inspector; the primary relays log reopening ('reopen-logs').
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const)
    process.on(signal, () => undefined);
  send({ sy: 'ready' });
}

/** The live counters of every endpoint the snapshot names (each worker counts its own share). */
function endpointCounters(dataPlane: DataPlane, snapshot: Snapshot | undefined): EndpointCountersReport[] {
  if (snapshot === undefined) return [];
  const reports: EndpointCountersReport[] = [];
  for (const service of Object.values(snapshot.services)) {
    for (const { id } of service.endpoints) {
      const c = dataPlane.counters(service.name, id);
      reports.push({
        service: service.name,
        endpoint: id,
        inFlight: c.inFlight,
        requests: c.requests,
        stickyRequests: c.stickyRequests,
        bytesOut: c.bytesOut,
        bytesIn: c.bytesIn,
        responses: [...c.responses],
        durationBuckets: [...c.durationBuckets],
        ...(c.loadReport === undefined ? {} : { loadReport: c.loadReport }),
      });
    }
  }
  return reports;
}
