import { buildDemoBundle } from './demo-bundle.js';
import { dispatch } from '../../src/fhir/router.js';
import type { FhirSettings } from '../../src/fhir/types.js';
import type { Logger } from '../../src/logging/logger.js';
import { INTERNAL } from '../../src/policy/principal.js';
import type { Database } from '../../src/repo/pool.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';

const SEEDED_KEY = 'demo-data-loaded';

/**
 * Loads the demo data once per database, as one FHIR transaction through the normal router (so it
 * is validated like any client write). Returns true when it loaded it now.
 */
export async function loadDemoDataOnce(db: Database, settings: FhirSettings, logger: Logger): Promise<boolean> {
  const loaded = await new ResourceRepo(db).transaction(async (repo) => {
    await repo.lockKey(SEEDED_KEY);
    const { rows } = await repo.queryable.query('SELECT 1 FROM app_state WHERE key = $1', [SEEDED_KEY]);
    if (rows.length > 0) {
      return false;
    }
    const response = await dispatch(
      { repo, principal: INTERNAL, settings },
      { method: 'POST', path: '', query: {}, body: buildDemoBundle(), headers: { prefer: 'return=minimal' } }
    );
    await repo.queryable.query('INSERT INTO app_state (key, value) VALUES ($1, $2)', [SEEDED_KEY, new Date().toISOString()]);
    const count = (response.resource as { entry?: unknown[] } | undefined)?.entry?.length ?? 0;
    logger.info({ resources: count }, 'demo data loaded');
    return true;
  });
  return loaded;
}
