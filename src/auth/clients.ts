import fs from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import { SYSTEM_ROLES, type SystemRole } from '../policy/principal.js';
import { secretHash } from './hash.js';
import { OAuthError } from './oauth-errors.js';

export type AuthMethod = 'none' | 'private_key_jwt' | 'client_secret_basic';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

/** A registered client, with RFC 7591 metadata names. */
export interface SmartClient {
  readonly client_id: string;
  readonly client_name?: string;
  readonly redirect_uris: readonly string[];
  readonly token_endpoint_auth_method: AuthMethod;
  readonly client_secret?: string;
  readonly jwks?: { keys: JWK[] };
  readonly jwks_uri?: string;
  /** The most this client may ever be granted. */
  readonly scope: string;
  readonly grant_types: readonly GrantType[];
  /** What a Backend Services client is in the DMP (see SystemRole); none: no DMP data. */
  readonly dmp_role?: SystemRole;
}

const METHODS: readonly AuthMethod[] = ['none', 'private_key_jwt', 'client_secret_basic'];
const GRANTS: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

/** Checks one client's metadata; returns the problems found (empty when valid). */
export function clientProblems(c: Partial<SmartClient>): string[] {
  const problems: string[] = [];
  if (!c.client_id || typeof c.client_id !== 'string') problems.push('client_id is required');
  if (!c.token_endpoint_auth_method || !METHODS.includes(c.token_endpoint_auth_method)) problems.push(`token_endpoint_auth_method must be one of ${METHODS.join(', ')}`);
  if (!Array.isArray(c.grant_types) || c.grant_types.length === 0 || c.grant_types.some((g) => !GRANTS.includes(g))) problems.push(`grant_types must list some of ${GRANTS.join(', ')}`);
  if (typeof c.scope !== 'string') problems.push('scope is required');
  if (!Array.isArray(c.redirect_uris) || c.redirect_uris.some((u) => !isAbsoluteUrl(u))) problems.push('redirect_uris must be an array of absolute URLs');
  if (c.grant_types?.includes('authorization_code') && (c.redirect_uris ?? []).length === 0) problems.push('authorization_code needs at least one redirect_uri');
  if (c.token_endpoint_auth_method === 'client_secret_basic' && !c.client_secret) problems.push('client_secret_basic needs a client_secret');
  if (c.token_endpoint_auth_method === 'private_key_jwt' && !c.jwks && !c.jwks_uri) problems.push('private_key_jwt needs jwks or jwks_uri');
  if (c.grant_types?.includes('client_credentials') && c.token_endpoint_auth_method !== 'private_key_jwt') problems.push('client_credentials (SMART Backend Services) needs private_key_jwt');
  if (c.dmp_role !== undefined && !SYSTEM_ROLES.includes(c.dmp_role)) problems.push(`dmp_role must be one of ${SYSTEM_ROLES.join(', ')}`);
  if (c.dmp_role !== undefined && !c.grant_types?.includes('client_credentials')) problems.push('dmp_role is for Backend Services clients (client_credentials)');
  return problems.map((p) => `${c.client_id ?? '?'}: ${p}`);
}

function isAbsoluteUrl(u: unknown): boolean {
  try {
    return typeof u === 'string' && !!new URL(u).protocol;
  } catch {
    return false;
  }
}

/** Reads and validates a clients file (a JSON array); a missing file is an empty registry. */
export function readClientsFile(file: string): SmartClient[] {
  if (!fs.existsSync(file)) {
    return [];
  }
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) {
    throw new Error(`${file} must hold a JSON array of clients`);
  }
  const problems = parsed.flatMap((c) => clientProblems(c as Partial<SmartClient>));
  const ids = parsed.map((c) => (c as SmartClient).client_id);
  if (new Set(ids).size !== ids.length) problems.push('client_id values must be unique');
  if (problems.length > 0) {
    throw new Error(`Invalid SMART clients file ${file}: ${problems.join('; ')}`);
  }
  return parsed as SmartClient[];
}

/** The registered clients, re-read when the file changes (so `npm run client -- add` needs no restart). */
export class ClientRegistry {
  private clients: SmartClient[] = [];
  private mtimeMs = -1;

  constructor(private readonly file: string) {
    this.reload();
  }

  find(clientId: string | undefined): SmartClient | undefined {
    if (!clientId) {
      return undefined;
    }
    this.reloadIfChanged();
    return this.clients.find((c) => c.client_id === clientId);
  }

  private reloadIfChanged(): void {
    const mtime = fs.existsSync(this.file) ? fs.statSync(this.file).mtimeMs : 0;
    if (mtime !== this.mtimeMs) {
      this.reload();
    }
  }

  private reload(): void {
    this.clients = readClientsFile(this.file);
    this.mtimeMs = fs.existsSync(this.file) ? fs.statSync(this.file).mtimeMs : 0;
  }
}

/** Constant-time check of a client secret. */
export function secretMatches(client: SmartClient, secret: string): boolean {
  if (!client.client_secret) {
    return false;
  }
  return timingSafeEqual(Buffer.from(secretHash(client.client_secret)), Buffer.from(secretHash(secret)));
}

/** Reads `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded id and secret). */
export function parseBasicAuth(header: string | undefined): { clientId: string; secret: string } | undefined {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) {
    return undefined;
  }
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new OAuthError('invalid_client', 'Malformed Basic credentials');
  }
  return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}
