import type { Database } from '../../repo/pool.js';
import { randomSecret } from '../hash.js';

const STATE_KEY = 'demo-idp-client-secret';

/**
 * The client secret the server uses at its own demo identity provider: drawn at random once and kept
 * in `app_state`, so every server process sharing the database presents (and accepts) the same one.
 * Kept in clear: the server is also the client and must present it.
 */
export async function demoIdpClientSecret(db: Database): Promise<string> {
  // First writer wins; concurrent starters then all read the winner's value.
  await db.query('INSERT INTO app_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [STATE_KEY, randomSecret()]);
  const { rows } = await db.query<{ value: string }>('SELECT value FROM app_state WHERE key = $1', [STATE_KEY]);
  if (!rows[0]) {
    throw new Error('demo identity provider: the client secret could not be stored');
  }
  return rows[0].value;
}
