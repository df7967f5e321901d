import { useEffect, useState } from 'preact/hooks';
import { BarChart } from '../chart.js';

// The requests of the last five minutes per service and decision, pushed by
// the server (GET /console/live, server-sent events) as gateways decide.

const BUCKET_MS = 10_000;
const BUCKETS = 30;

interface LiveDecision { seq: number; time: number; service: string; decision: 'allow' | 'deny'; reason: string; count: number }

export function Live() {
  const [decisions, setDecisions] = useState<LiveDecision[]>([]);
  const [state, setState] = useState('connecting');
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const source = new EventSource('/console/live');
    source.addEventListener('ready', () => setState('live'));
    source.addEventListener('decision', (event) => {
      const item = JSON.parse((event as MessageEvent<string>).data) as LiveDecision;
      setDecisions((current) => [...current.filter((d) => d.time > Date.now() - BUCKETS * BUCKET_MS), item]);
    });
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    const timer = setInterval(() => setNow(Date.now()), BUCKET_MS / 2);
    return () => { source.close(); clearInterval(timer); };
  }, []);
  const start = now - BUCKETS * BUCKET_MS;
  const services = [...new Set(decisions.map((d) => d.service))].sort();
  const seriesOf = (service: string) => (['allow', 'deny'] as const).map((decision) => {
    const values = new Array<number>(BUCKETS).fill(0);
    for (const d of decisions) {
      if (d.service !== service || d.decision !== decision || d.time < start) continue;
      values[Math.min(BUCKETS - 1, Math.floor((d.time - start) / BUCKET_MS))]! += d.count;
    }
    return { label: decision === 'allow' ? 'allowed' : 'refused', className: decision, values };
  });
  const label = (i: number) => `${Math.round(((BUCKETS - i) * BUCKET_MS) / 1000)} s ago`;
  return (
    <>
      <div class="title-row">
        <h1>Live</h1>
        <span class={`status ${state === 'live' ? 'active' : 'disabled'}`} role="status" data-testid="live-state">{state}</span>
      </div>
      <p class="help">Decisions of every gateway in the last five minutes, as they are recorded.</p>
      {services.length === 0 ? <p>No requests since this page opened.</p> : services.map((service) => (
        <section class="card" key={service} aria-labelledby={`live-${service}`}>
          <h2 id={`live-${service}`}>{service}</h2>
          <BarChart title={`Requests to ${service} per 10 seconds`} buckets={BUCKETS} series={seriesOf(service)} bucketLabel={label} />
        </section>
      ))}
    </>
  );
}
