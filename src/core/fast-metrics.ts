import type { Counter, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';

// Metrics counted on every request without prom-client's per-call work (label
// validation, a label hash, a map lookup): the hot path adds to plain numbers
// held by a series resolved once, and the registry reads them at scrape time.

/** A count added to in memory and handed to a prom-client counter when /metrics is read. */
export class PendingCount {
  #pending = 0;

  inc(): void {
    this.#pending++;
  }

  /** Gives what was counted since the last take. */
  take(): number {
    const n = this.#pending;
    this.#pending = 0;
    return n;
  }
}

/**
 * Counts on `counter` (with these label values) made through PendingCount
 * objects, handed over by the counter's collect hook: scrape-time reads stay
 * exact, and the request path never touches prom-client.
 */
export class DeferredCounter<L extends string> {
  readonly #series = new Map<string, { labels: Partial<Record<L, string>>; count: PendingCount }>();

  /** The series for `labels`: one object per label set, kept for the registry's life. */
  series(labels: Record<L, string>): PendingCount {
    const key = Object.values(labels).join('\u0000');
    let found = this.#series.get(key);
    if (found === undefined) {
      found = { labels, count: new PendingCount() };
      this.#series.set(key, found);
    }
    return found.count;
  }

  /** Called from the counter's collect(): adds what each series counted. */
  drainInto(counter: Counter<L>): void {
    for (const { labels, count } of this.#series.values()) {
      const n = count.take();
      if (n > 0) counter.inc(labels, n);
    }
  }
}

interface Series {
  readonly labels: Record<string, string>;
  /** Per bucket (the last one is +Inf), not cumulative. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** One label set's histogram, to observe into on the hot path. */
export interface HistogramSeries {
  observe(value: number): void;
}

export interface FastHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Upper bounds, ascending. */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

/**
 * A Prometheus histogram served in prom-client's text and JSON forms (it
 * implements the registry's metric contract: name, help, type, get()), whose
 * series are plain arrays.
 */
export class FastHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  /** Label values → the series and the handle observing into it. */
  readonly #series = new Map<string, { readonly series: Series; readonly handle: HistogramSeries }>();

  constructor(options: FastHistogramOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** The series for `labels`, resolved once; observing into it costs a bucket search and three additions. */
  series(labels: Record<L, string>): HistogramSeries {
    const key = this.#labelNames.map((name) => labels[name]).join('\u0000');
    const found = this.#series.get(key);
    if (found !== undefined) return found.handle;
    const series: Series = { labels: { ...labels }, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
    const bounds = this.#bounds;
    const handle: HistogramSeries = {
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        series.counts[i]!++;
        series.sum += value;
        series.count++;
      },
    };
    this.#series.set(key, { series, handle });
    return handle;
  }

  /** The slow path, for label sets that vary (refusals): one lookup. */
  observe(labels: Record<L, string>, value: number): void {
    this.series(labels).observe(value);
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const { series } of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ value: cumulative, metricName: `${this.name}_bucket`, exemplar: null, labels: { le: this.#bounds[i]!, ...series.labels } } as MetricValueWithName<string>);
      }
      values.push({ value: series.count, metricName: `${this.name}_bucket`, exemplar: null, labels: { le: '+Inf', ...series.labels } } as MetricValueWithName<string>);
      values.push({ value: series.sum, metricName: `${this.name}_sum`, labels: series.labels });
      values.push({ value: series.count, metricName: `${this.name}_count`, labels: series.labels });
    }
    // The shape prom-client's registry reads from any metric (its own histograms give the same).
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  /** prom-client's registry calls these on some paths (reset, clustering); a histogram of counts resets to empty. */
  reset(): void {
    for (const { series } of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
