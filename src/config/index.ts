import path from 'node:path';
import { DEFAULT_INVISIBLE_PATIENT_DELAY_DAYS } from '../policy/decide.js';
import { DEFAULT_RETENTION_YEARS } from '../dmp/closure.js';
import { DEFAULT_MATRIX_FILE, HabilitationMatrixError, loadMatrix, type HabilitationMatrix } from '../policy/habilitation-matrix.js';

/** Every setting of the server, read once from the environment and validated. */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** Public base URL of the server (no trailing slash); the FHIR base is `${baseUrl}/fhir`. */
  readonly baseUrl: string;
  /** Real PostgreSQL when set; embedded PGlite in `dataDir` otherwise. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly maxBodyBytes: number;
  /** Largest Binary content (decoded bytes) accepted on any write path; above it: 413. */
  readonly binaryMaxBytes: number;
  readonly searchDefaultCount: number;
  readonly searchMaxCount: number;
  /** `$pilotage`: smallest count a stratum may show (small cells withheld); 1 = every count shown. */
  readonly pilotageMinCellCount: number;
  readonly dbPoolSize: number;
  readonly shutdownTimeoutMs: number;
  readonly seedDemoData: boolean;
  readonly auth: AuthConfig;
  readonly policy: PolicyConfig;
}

/** The DMP access rules' settings (issue 4). */
export interface PolicyConfig {
  /** The habilitation matrix as a FHIR R4 ConceptMap (absolute path); default: the one shipped in profiles/. */
  readonly matrixFile: string;
  /** The matrix read from matrixFile, checked once at startup. */
  readonly matrix: HabilitationMatrix;
  /** Days after which an INVISIBLE_PATIENT document becomes visible to the patient and their representatives. */
  readonly invisiblePatientDelayDays: number;
  /** Years a closed DMP is kept (archived, reopenable) before `npm run purge` erases it (R.1111-34: 10). */
  readonly retentionYears: number;
}

/** The SMART authorisation server's settings. */
export interface AuthConfig {
  /** Upstream OpenID Connect provider; undefined = the built-in demo identity provider under /demo-idp. */
  readonly oidcIssuer: string | undefined;
  readonly oidcClientId: string | undefined;
  readonly oidcClientSecret: string | undefined;
  /** JSON array of registered SMART clients (RFC 7591 metadata). */
  readonly clientsFile: string;
  /** Private signing key (JWK JSON, ES256 or RS256) from settings; unset = generated once and kept in the database. */
  readonly signingKey: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
}

class ConfigError extends Error {}

function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

function boolSetting(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  if (!['true', 'false', '1', '0'].includes(raw)) {
    throw new ConfigError(`${name} must be true or false (got "${raw}")`);
  }
  return raw === 'true' || raw === '1';
}

function urlSetting(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error('protocol');
    }
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL (got "${raw}")`);
  }
  return raw.replace(/\/+$/, '');
}

/** Reads and validates the settings; throws with a clear message on the first bad one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intSetting(env, 'PORT', 8080, 0, 65535);
  const searchMaxCount = intSetting(env, 'SEARCH_MAX_COUNT', 1000, 1, 10000);
  return {
    port,
    host: env.HOST || '0.0.0.0',
    baseUrl: urlSetting(env, 'BASE_URL', `http://localhost:${port}`),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR?.startsWith('memory://') ? env.DATA_DIR : path.resolve(env.DATA_DIR || './data'),
    logLevel: env.LOG_LEVEL || 'info',
    maxBodyBytes: intSetting(env, 'MAX_BODY_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    // A PostgreSQL bytea value holds at most 1 GB.
    binaryMaxBytes: intSetting(env, 'BINARY_MAX_BYTES', 50 * 1024 * 1024, 1024, 1000 * 1000 * 1000),
    searchDefaultCount: Math.min(intSetting(env, 'SEARCH_DEFAULT_COUNT', 20, 1, 10000), searchMaxCount),
    searchMaxCount,
    pilotageMinCellCount: intSetting(env, 'PILOTAGE_MIN_CELL_COUNT', 1, 1, 1000),
    dbPoolSize: intSetting(env, 'DB_POOL_SIZE', 10, 1, 200),
    shutdownTimeoutMs: intSetting(env, 'SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    seedDemoData: boolSetting(env, 'SEED_DEMO_DATA', true),
    auth: loadAuthConfig(env, path.resolve(env.DATA_DIR || './data')),
    policy: loadPolicyConfig(env),
  };
}

function loadPolicyConfig(env: NodeJS.ProcessEnv): PolicyConfig {
  const matrixFile = env.HABILITATION_MATRIX_FILE ? path.resolve(env.HABILITATION_MATRIX_FILE) : DEFAULT_MATRIX_FILE;
  let matrix: HabilitationMatrix;
  try {
    matrix = loadMatrix(matrixFile);
  } catch (err) {
    throw err instanceof HabilitationMatrixError ? new ConfigError(err.message) : err;
  }
  return {
    matrixFile,
    matrix,
    // R.1111-53: at most one month between the deposit and the announcement consultation.
    invisiblePatientDelayDays: intSetting(env, 'INVISIBLE_PATIENT_DELAY_DAYS', DEFAULT_INVISIBLE_PATIENT_DELAY_DAYS, 1, 365),
    retentionYears: intSetting(env, 'DMP_RETENTION_YEARS', DEFAULT_RETENTION_YEARS, 1, 100),
  };
}

function loadAuthConfig(env: NodeJS.ProcessEnv, dataDir: string): AuthConfig {
  const oidcIssuer = env.OIDC_ISSUER ? urlSetting(env, 'OIDC_ISSUER', env.OIDC_ISSUER) : undefined;
  if (oidcIssuer && (!env.OIDC_CLIENT_ID || !env.OIDC_CLIENT_SECRET)) {
    throw new ConfigError('OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required when OIDC_ISSUER is set');
  }
  return {
    oidcIssuer,
    oidcClientId: env.OIDC_CLIENT_ID || undefined,
    oidcClientSecret: env.OIDC_CLIENT_SECRET || undefined,
    clientsFile: path.resolve(env.SMART_CLIENTS_FILE || path.join(dataDir, 'smart-clients.json')),
    signingKey: env.AUTH_SIGNING_KEY || undefined,
    // SMART: access tokens live at most one hour.
    accessTokenTtlSeconds: intSetting(env, 'ACCESS_TOKEN_TTL_SECONDS', 3600, 60, 3600),
    refreshTokenTtlSeconds: intSetting(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 24 * 3600, 300, 365 * 24 * 3600),
  };
}

export { ConfigError };
