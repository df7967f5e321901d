import { Counter, Gauge, type Registry } from 'prom-client';

// The audit log's health as Prometheus sees it. In `open` mode these are the
// only signal that events are being lost, so the alert rule is on
// latchkey_audit_events_lost_total.

export interface AuditMetrics {
  written(count: number): void;
  lost(count: number): void;
  writeFailure(): void;
  sinkFailure(sink: string): void;
}

/** Current figures, also kept without a registry so that tests and `/v1/audit/status` can read them. */
export interface AuditRecorderStats {
  readonly written: number;
  readonly lost: number;
  readonly writeFailures: number;
  readonly sinkFailures: number;
  readonly queueDepth: number;
  readonly accepting: boolean;
}

/**
 * Registers the recorder's metrics in `registry`, reusing any already there
 * (one process may build a recorder more than once, e.g. after a reload).
 * `sample` is read at scrape time, so the hot path never touches a gauge.
 */
export function createAuditMetrics(
  registry: Registry | undefined,
  sample: () => { queueDepth: number; accepting: boolean },
): AuditMetrics {
  if (registry === undefined) {
    return { written() {}, lost() {}, writeFailure() {}, sinkFailure() {} };
  }
  const written = counter(registry, 'latchkey_audit_events_written_total', 'Audit events committed to the store.');
  const lost = counter(
    registry,
    'latchkey_audit_events_lost_total',
    'Audit events dropped without being written (queue overflow in open mode, or shutdown with the store down).',
  );
  const failures = counter(registry, 'latchkey_audit_write_failures_total', 'Failed audit batch writes (each is retried).');
  const sinkFailures = counter(
    registry,
    'latchkey_audit_sink_failures_total',
    'Failed deliveries of committed audit batches to a sink (file, stdout, webhook).',
    ['sink'],
  );
  gauge(registry, 'latchkey_audit_queue_depth', 'Audit events waiting to be written.', () => sample().queueDepth);
  gauge(registry, 'latchkey_audit_accepting', '1 while the audit log accepts events, 0 while a closed-mode gateway must refuse requests.', () =>
    sample().accepting ? 1 : 0,
  );
  return {
    written: (count) => written.inc(count),
    lost: (count) => lost.inc(count),
    writeFailure: () => failures.inc(),
    sinkFailure: (sink) => sinkFailures.inc({ sink }),
  };
}

function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  // A gauge registered by an earlier recorder would keep reading the old one:
  // replace it so that the figures are this recorder's.
  if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
