// A small bar chart in SVG (attributes only: the CSP allows no inline style),
// with the same numbers in a table for screen readers and keyboard users.

export interface Series {
  label: string;
  className: string;
  values: number[];
}

export function BarChart({ title, buckets, series, bucketLabel }: { title: string; buckets: number; series: Series[]; bucketLabel: (index: number) => string }) {
  const width = 600;
  const height = 140;
  const totals = Array.from({ length: buckets }, (_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = width / buckets;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} preserveAspectRatio="none">
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {Array.from({ length: buckets }, (_, i) => {
          let y = height;
          return series.map((s) => {
            const h = ((s.values[i] ?? 0) / max) * (height - 10);
            y -= h;
            return h > 0 ? <rect key={`${s.label}-${i}`} x={i * step + 1} y={y} width={Math.max(1, step - 2)} height={h} class={s.className}><title>{`${s.label}: ${s.values[i]} (${bucketLabel(i)})`}</title></rect> : null;
          });
        })}
      </svg>
      {/* Outside the SVG, which stretches to the card's width: text there would stretch with it. */}
      <div class="ticks" aria-hidden="true"><span>{bucketLabel(0)}</span><span>{bucketLabel(buckets - 1)}</span></div>
      <figcaption>
        <ul class="legend">{series.map((s) => <li key={s.label}><span class={`swatch ${s.className}`} aria-hidden="true" /> {s.label}: {s.values.reduce((a, b) => a + b, 0)}</li>)}</ul>
      </figcaption>
    </figure>
  );
}
