/** The knobs of `npm run bench`, read once from the environment. */
export interface BenchSettings {
  /** Seconds each scenario runs (BENCH_DURATION). */
  readonly durationSeconds: number;
  /** Concurrent HTTP connections autocannon keeps open (BENCH_CONNECTIONS). */
  readonly connections: number;
  /** autocannon worker threads; 0 runs the load generator on the server's own event loop (BENCH_WORKERS). */
  readonly workers: number;
  /** DocumentReferences seeded in all (BENCH_DOCS). */
  readonly totalDocs: number;
  /** Of which this many belong to the one patient the search scenario reads (BENCH_PATIENT_DOCS). */
  readonly focusPatientDocs: number;
  /** The other documents are spread over this many other patients (BENCH_OTHER_PATIENTS). */
  readonly otherPatients: number;
  /**
   * Run ANALYZE after seeding (BENCH_ANALYZE=1/0). Unset: on PostgreSQL only, where autovacuum would
   * soon do it anyway (and flip plans mid-run); PGlite has no autovacuum, so a deployed one never does.
   */
  readonly analyze: boolean | undefined;
  /** PostgreSQL to use instead of a fresh embedded PGlite (DATABASE_URL). */
  readonly databaseUrl: string | undefined;
  /** Where to also write the results as JSON, if anywhere (BENCH_JSON). */
  readonly jsonPath: string | undefined;
}

function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer >= ${min} (got "${raw}")`);
  }
  return value;
}

function optionalBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return undefined;
  }
  if (raw !== '1' && raw !== '0') {
    throw new Error(`${name} must be 1 or 0 (got "${raw}")`);
  }
  return raw === '1';
}

/** Reads and checks the knobs; throws on the first bad one. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const totalDocs = intSetting(env, 'BENCH_DOCS', 20_000, 1);
  const focusPatientDocs = intSetting(env, 'BENCH_PATIENT_DOCS', 1_000, 1);
  if (focusPatientDocs > totalDocs) {
    throw new Error(`BENCH_PATIENT_DOCS (${focusPatientDocs}) must not exceed BENCH_DOCS (${totalDocs})`);
  }
  return {
    durationSeconds: intSetting(env, 'BENCH_DURATION', 10, 1),
    connections: intSetting(env, 'BENCH_CONNECTIONS', 10, 1),
    workers: intSetting(env, 'BENCH_WORKERS', 1, 0),
    totalDocs,
    focusPatientDocs,
    otherPatients: intSetting(env, 'BENCH_OTHER_PATIENTS', 200, 1),
    analyze: optionalBool(env, 'BENCH_ANALYZE'),
    databaseUrl: env.DATABASE_URL || undefined,
    jsonPath: env.BENCH_JSON || undefined,
  };
}
