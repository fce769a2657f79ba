/**
 * `npm run purge [-- --now <ISO 8601> --dry-run]`: erases the closed DMPs whose retention
 * (DMP_RETENTION_YEARS after their closure, 10 by default) has ended, keeping their audit trail.
 * Meant as a scheduled job (cron, Kubernetes CronJob). `--now` sets the clock (tests, catch-up runs).
 * On the embedded database (no DATABASE_URL) run it while the server is stopped: PGlite serves one
 * process at a time.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { expiredRecords, purgeExpired } from '../src/dmp/purge.js';
import { migrate } from '../src/repo/migrations/index.js';
import { openDatabase } from '../src/repo/pool.js';
import { ResourceRepo } from '../src/repo/resource-repo.js';

const USAGE = `Usage: npm run purge [-- --now <ISO 8601 instant>] [--dry-run]
Erases the closed DMPs whose retention (DMP_RETENTION_YEARS, default 10) ended; AuditEvents stay.
Settings: DATABASE_URL (PostgreSQL) or DATA_DIR (embedded database: stop the server first).`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { now: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const now = values.now !== undefined ? new Date(values.now) : new Date();
  if (Number.isNaN(now.getTime())) {
    process.stderr.write(`--now must be an ISO 8601 instant, not "${values.now}"\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const years = config.policy.retentionYears;
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    await migrate(db);
    const repo = new ResourceRepo(db);
    if (values['dry-run']) {
      const { due } = await expiredRecords(repo, now, years);
      process.stdout.write(`dry run at ${now.toISOString()} (retention ${years} years): ${due.length} closed DMP(s) would be purged${due.length ? `: ${due.join(', ')}` : ''}\n`);
      return 0;
    }
    const report = await purgeExpired(repo, now, years);
    process.stdout.write(`purge at ${now.toISOString()} (retention ${years} years): ${report.purged.length} closed DMP(s) purged, ${report.kept} still within retention\n`);
    for (const id of report.purged) process.stdout.write(`  purged Patient/${id}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`purge failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
);
