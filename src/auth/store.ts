import type { Database } from '../repo/pool.js';
import type { Grant } from './grant.js';
import { randomSecret, secretHash } from './hash.js';

/** An authorisation code's binding: the grant plus what the token request must repeat. */
export interface CodeData {
  readonly grant: Grant;
  readonly redirectUri: string;
  readonly codeChallenge: string;
}

const CODE_TTL_S = 60;
const LAUNCH_TTL_S = 300;
const REQUEST_TTL_S = 600;

/**
 * The authorisation server's single-use secrets, kept in the database (hashed) so that any
 * server process can finish what another started: pending requests, codes, launches, refresh tokens.
 */
export class AuthStore {
  constructor(private readonly db: Database) {}

  /** Saves a pending authorisation request bound to a browser secret; returns its id (a given one must be a fresh random secret). */
  async saveRequest(data: object, browserSecret: string, id: string = randomSecret()): Promise<string> {
    await this.db.query('INSERT INTO auth_requests (id_hash, browser_hash, data, expires_at) VALUES ($1, $2, $3, $4)', [
      secretHash(id),
      secretHash(browserSecret),
      data,
      inSeconds(REQUEST_TTL_S),
    ]);
    return id;
  }

  /** The pending request, if it exists, is unused, unexpired and belongs to this browser. */
  async loadRequest<T>(id: string, browserSecret: string | undefined): Promise<T | undefined> {
    const { rows } = await this.db.query<{ data: T; browser_hash: string }>(
      'SELECT data, browser_hash FROM auth_requests WHERE id_hash = $1 AND used_at IS NULL AND expires_at > now()',
      [secretHash(id)]
    );
    const row = rows[0];
    return row && browserSecret && row.browser_hash === secretHash(browserSecret) ? row.data : undefined;
  }

  /** Marks a pending request done; false if it was already used (a replayed callback). */
  async consumeRequest(id: string): Promise<boolean> {
    const { rows } = await this.db.query('UPDATE auth_requests SET used_at = now() WHERE id_hash = $1 AND used_at IS NULL RETURNING id_hash', [secretHash(id)]);
    return rows.length > 0;
  }

  async issueCode(data: CodeData): Promise<string> {
    const code = randomSecret();
    await this.db.query('INSERT INTO auth_codes (code_hash, client_id, grant_data, family_id, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      secretHash(code),
      data.grant.clientId,
      data,
      data.grant.familyId,
      inSeconds(CODE_TTL_S),
    ]);
    return code;
  }

  /**
   * Uses a code once. A second use revokes every token the first one produced (RFC 6749 §4.1.2)
   * and answers 'reused'.
   */
  async consumeCode(code: string): Promise<CodeData | 'reused' | 'unknown'> {
    const hash = secretHash(code);
    const { rows } = await this.db.query<{ grant_data: CodeData; expired: boolean }>(
      'UPDATE auth_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL RETURNING grant_data, expires_at < now() AS expired',
      [hash]
    );
    if (rows[0]) {
      return rows[0].expired ? 'unknown' : rows[0].grant_data;
    }
    const used = await this.db.query<{ family_id: string }>('SELECT family_id FROM auth_codes WHERE code_hash = $1', [hash]);
    if (used.rows[0]) {
      await this.revokeFamily(used.rows[0].family_id);
      return 'reused';
    }
    return 'unknown';
  }

  async issueLaunch(clientId: string, patientId: string): Promise<string> {
    const launch = randomSecret();
    await this.db.query('INSERT INTO auth_launches (launch_hash, client_id, patient_id, expires_at) VALUES ($1, $2, $3, $4)', [
      secretHash(launch),
      clientId,
      patientId,
      inSeconds(LAUNCH_TTL_S),
    ]);
    return launch;
  }

  /** Uses a launch once, for the client it was made for; returns its patient. */
  async consumeLaunch(launch: string, clientId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ patient_id: string }>(
      `UPDATE auth_launches SET used_at = now()
        WHERE launch_hash = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > now() RETURNING patient_id`,
      [secretHash(launch), clientId]
    );
    return rows[0]?.patient_id;
  }

  /** True if the launch exists, is unused, unexpired and bound to this client (checked before login). */
  async launchUsable(launch: string, clientId: string): Promise<boolean> {
    const { rows } = await this.db.query(
      'SELECT 1 FROM auth_launches WHERE launch_hash = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > now()',
      [secretHash(launch), clientId]
    );
    return rows.length > 0;
  }

  async issueRefreshToken(grant: Grant, ttlSeconds: number): Promise<string> {
    const token = randomSecret();
    await this.db.query('INSERT INTO auth_refresh_tokens (token_hash, family_id, client_id, grant_data, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      secretHash(token),
      grant.familyId,
      grant.clientId,
      grant,
      inSeconds(ttlSeconds),
    ]);
    return token;
  }

  /** The grant of a usable refresh token, without using it (to refuse a bad request before rotating). */
  async peekRefreshToken(token: string, clientId: string): Promise<Grant | undefined> {
    const { rows } = await this.db.query<{ grant_data: Grant }>(
      `SELECT grant_data FROM auth_refresh_tokens
        WHERE token_hash = $1 AND client_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`,
      [secretHash(token), clientId]
    );
    return rows[0]?.grant_data;
  }

  /**
   * Uses a refresh token once (rotation). Presenting a used one again means it leaked: the whole
   * family (every refresh and access token of that authorisation) is revoked.
   */
  async useRefreshToken(token: string, clientId: string): Promise<Grant | 'reused' | 'invalid'> {
    const hash = secretHash(token);
    const { rows } = await this.db.query<{ grant_data: Grant }>(
      `UPDATE auth_refresh_tokens SET used_at = now()
        WHERE token_hash = $1 AND client_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
          AND family_id NOT IN (SELECT family_id FROM auth_families_revoked)
        RETURNING grant_data`,
      [hash, clientId]
    );
    if (rows[0]) {
      return rows[0].grant_data;
    }
    const seen = await this.db.query<{ family_id: string; used: boolean }>(
      'SELECT family_id, used_at IS NOT NULL AS used FROM auth_refresh_tokens WHERE token_hash = $1 AND client_id = $2',
      [hash, clientId]
    );
    if (seen.rows[0]?.used) {
      await this.revokeFamily(seen.rows[0].family_id);
      return 'reused';
    }
    return 'invalid';
  }

  /** Revokes a refresh token's whole family (RFC 7009 on a refresh token); false if unknown. */
  async revokeRefreshToken(token: string, clientId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ family_id: string }>('SELECT family_id FROM auth_refresh_tokens WHERE token_hash = $1 AND client_id = $2', [
      secretHash(token),
      clientId,
    ]);
    if (!rows[0]) {
      return false;
    }
    await this.revokeFamily(rows[0].family_id);
    return true;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db.query('INSERT INTO auth_families_revoked (family_id) VALUES ($1) ON CONFLICT DO NOTHING', [familyId]);
    await this.db.query('UPDATE auth_refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [familyId]);
  }
}

function inSeconds(s: number): string {
  return new Date(Date.now() + s * 1000).toISOString();
}
