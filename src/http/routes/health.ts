import express from 'express';
import { outcomeOf } from '../../fhir/outcomes.js';
import type { Database } from '../../repo/pool.js';

/** `/healthz`: the process answers. `/readyz`: the database answers too. */
export function healthRoutes(db: Database): express.Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ready', database: db.kind });
    } catch {
      res.status(503).type('application/fhir+json').send(JSON.stringify(outcomeOf('DATABASE_UNAVAILABLE', 'The database does not answer')));
    }
  });
  return router;
}
