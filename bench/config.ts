// The benchmark's settings, from WEFT_BENCH_* environment variables. Pure.

export const ROW_IDS = [
  'direct',
  'l4',
  'mtls',
  'l7',
  'l7-route',
  'nginx',
  'splice',
  'direct-node',
  'l4-node',
  'mtls-node',
] as const;
export type RowId = (typeof ROW_IDS)[number];

export interface BenchConfig {
  /** Every row is measured once per round, rows interleaved; figures are medians. */
  rounds: number;
  /** TCP: one connection sending for this long. */
  bulkMs: number;
  /** TCP: sequential 1-byte round trips on one connection (after a warm-up). */
  pings: number;
  /** TCP: new connections one after another for this long. */
  connectMs: number;
  /** HTTP: wrk duration and concurrent connections. */
  httpSeconds: number;
  httpConnections: number;
  /** Rows to measure (direct is always among them); null: all, and the docs are written. */
  only: RowId[] | null;
  /** BENCH_QUICK=1: the main rows, one short round, docs not written. */
  quick: boolean;
  /** A directory for both agents' CPU profiles during each weft HTTP row (WEFT_BENCH_PROFILE); null: none. */
  profile: string | null;
}

export const KNOBS: Record<string, { field: keyof BenchConfig; default: string; what: string }> = {
  WEFT_BENCH_ROUNDS: { field: 'rounds', default: '3', what: 'rounds (each figure is the median)' },
  WEFT_BENCH_BULK_MS: { field: 'bulkMs', default: '3000', what: 'TCP bulk transfer, ms' },
  WEFT_BENCH_PINGS: { field: 'pings', default: '20000', what: 'TCP 1-byte round trips' },
  WEFT_BENCH_CONNECT_MS: { field: 'connectMs', default: '2000', what: 'TCP connect test, ms' },
  WEFT_BENCH_HTTP_SECONDS: { field: 'httpSeconds', default: '5', what: 'wrk duration, s' },
  WEFT_BENCH_HTTP_CONNECTIONS: {
    field: 'httpConnections',
    default: '8',
    what: 'wrk connections',
  },
};

/** BENCH_QUICK=1's defaults (a knob set explicitly still wins), and its rows. */
export const QUICK: { defaults: Record<string, string>; rows: RowId[] } = {
  defaults: {
    WEFT_BENCH_ROUNDS: '1',
    WEFT_BENCH_BULK_MS: '1000',
    WEFT_BENCH_PINGS: '5000',
    WEFT_BENCH_CONNECT_MS: '1000',
    WEFT_BENCH_HTTP_SECONDS: '2',
  },
  rows: ['direct', 'l4', 'mtls', 'l7', 'nginx'],
};

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${name}=${raw}: expected a whole number ≥ 1`);
  }
  return n;
}

/** Reads the settings; a bad value throws an error naming the variable. */
export function benchConfig(env: Record<string, string | undefined>): BenchConfig {
  const cfg = {
    only: null,
    profile: env.WEFT_BENCH_PROFILE?.trim() || null,
  } as unknown as BenchConfig;
  const quick = env.BENCH_QUICK?.trim();
  if (quick !== undefined && quick !== '' && quick !== '0' && quick !== '1') {
    throw new Error(`BENCH_QUICK=${quick}: expected 1 (or 0, or unset)`);
  }
  cfg.quick = quick === '1';
  for (const [name, k] of Object.entries(KNOBS)) {
    const dflt = (cfg.quick ? QUICK.defaults[name] : undefined) ?? k.default;
    (cfg as unknown as Record<string, number>)[k.field] = positiveInt(name, env[name] ?? dflt);
  }
  const only = env.WEFT_BENCH_ONLY?.trim();
  if (only) {
    const ids = only.split(',').map((s) => s.trim());
    for (const id of ids) {
      if (!(ROW_IDS as readonly string[]).includes(id)) {
        throw new Error(`WEFT_BENCH_ONLY: unknown row '${id}' (rows: ${ROW_IDS.join(', ')})`);
      }
    }
    cfg.only = [...new Set<RowId>(['direct', ...(ids as RowId[])])];
  } else if (cfg.quick) {
    cfg.only = QUICK.rows;
  }
  return cfg;
}
