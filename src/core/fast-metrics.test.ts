import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeferredCounter, FastHistogram } from './fast-metrics.js';

// The hot path's metrics must read at /metrics exactly as prom-client's own would.

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1];
const VALUES = [0, 0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.05, 0.1, 0.7, 1, 3, 12.5];

describe('FastHistogram', () => {
  it('serves the same text and JSON as a prom-client Histogram given the same observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['service', 'decision'], buckets: BUCKETS, registers: [theirs] });
    const fast = new FastHistogram({ name: 'x_seconds', help: 'h', labelNames: ['service', 'decision'] as const, buckets: BUCKETS, registers: [ours] });
    const bound = fast.series({ service: 'orders', decision: 'allow' });
    for (const value of VALUES) {
      reference.observe({ service: 'orders', decision: 'allow' }, value);
      bound.observe(value);
      reference.observe({ service: '_unknown', decision: 'deny' }, value / 2);
      fast.observe({ service: '_unknown', decision: 'deny' }, value / 2);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('is one series per label set, whichever way it is reached, and ignores what is not a number', async () => {
    const registry = new Registry();
    const fast = new FastHistogram({ name: 'y_seconds', help: 'h', labelNames: ['service'] as const, buckets: [1], registers: [registry] });
    expect(fast.series({ service: 'a' })).toBe(fast.series({ service: 'a' }));
    fast.series({ service: 'a' }).observe(0.5);
    fast.observe({ service: 'a' }, 2);
    fast.observe({ service: 'a' }, Number.NaN);
    const text = await registry.metrics();
    expect(text).toContain('y_seconds_bucket{le="1",service="a"} 1');
    expect(text).toContain('y_seconds_bucket{le="+Inf",service="a"} 2');
    expect(text).toContain('y_seconds_count{service="a"} 2');
    expect(text).toContain('y_seconds_sum{service="a"} 2.5');
  });
});

describe('DeferredCounter', () => {
  it('adds each series once, at scrape time, alongside counts made on the counter itself', async () => {
    const registry = new Registry();
    const deferred = new DeferredCounter<'service' | 'reason'>();
    const counter = new Counter({
      name: 'z_total', help: 'h', labelNames: ['service', 'reason'], registers: [registry],
      collect() {
        deferred.drainInto(this);
      },
    });
    const allowed = deferred.series({ service: 'orders', reason: 'allowed' });
    expect(deferred.series({ service: 'orders', reason: 'allowed' })).toBe(allowed);
    for (let i = 0; i < 5; i++) allowed.inc();
    counter.inc({ service: 'orders', reason: 'permission_denied' });
    expect(await registry.metrics()).toContain('z_total{service="orders",reason="allowed"} 5');
    // A second scrape does not count them again; new counts add up.
    expect(await registry.metrics()).toContain('z_total{service="orders",reason="allowed"} 5');
    allowed.inc();
    const text = await registry.metrics();
    expect(text).toContain('z_total{service="orders",reason="allowed"} 6');
    expect(text).toContain('z_total{service="orders",reason="permission_denied"} 1');
  });
});
