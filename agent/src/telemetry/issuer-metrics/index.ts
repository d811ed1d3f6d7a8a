// The issuer's metrics (weft issuer --metrics-port): certificates signed,
// requests refused by reason, how long TokenReviews take, and seconds until
// the signing CA expires. Node's runtime metrics beside them.
import { X509Certificate } from 'node:crypto';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Why the issuer refused a request: the `reason` label's values (a closed set). */
export type RefusalReason =
  | 'rate_limited'
  | 'unauthenticated'
  | 'not_authorized'
  | 'bad_request'
  | 'bad_csr';

export class IssuerMetrics {
  readonly registry = new Registry();
  private readonly signings: Counter<string>;
  private readonly refusals: Counter<string>;
  private readonly reviews: Histogram<string>;

  /** `caPem` gives the signing CA's certificate when scraped (it may be rotated). */
  constructor(caPem: () => string, o: { runtime?: boolean; now?: () => number } = {}) {
    const registers = [this.registry];
    const now = o.now ?? Date.now;
    if (o.runtime !== false) collectDefaultMetrics({ register: this.registry });
    this.signings = new Counter({
      name: 'weft_issuer_signings_total',
      help: 'Workload certificates signed.',
      registers,
    });
    this.refusals = new Counter({
      name: 'weft_issuer_refusals_total',
      help: 'Certificate requests refused, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.reviews = new Histogram({
      name: 'weft_issuer_tokenreview_duration_seconds',
      help: 'TokenReviews of agents’ tokens against the API server, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: 'weft_issuer_ca_expiry_seconds',
      help: 'Seconds until the signing CA certificate expires.',
      registers,
      collect() {
        this.set((Date.parse(new X509Certificate(caPem()).validTo) - now()) / 1000);
      },
    });
  }

  signed(): void {
    this.signings.inc();
  }

  refused(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  /** One TokenReview: its time, and whether the API server answered. */
  reviewed(seconds: number, answered: boolean): void {
    this.reviews.observe({ outcome: answered ? 'answered' : 'failed' }, seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
