import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTPayload,
  type JWTVerifyResult,
} from 'jose';
import type { Database } from '../repo/pool.js';
import { ResourceRepo } from '../repo/resource-repo.js';

export type KeyPurpose = 'server' | 'demo-idp';

/** Algorithms the server signs with and accepts on its own tokens. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;

interface LoadedKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey | Uint8Array;
  /** Imported once: verification runs on every request. */
  readonly publicKey: CryptoKey | Uint8Array;
  readonly publicJwk: JWK;
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK;
  public_jwk: JWK;
}

/**
 * Signing keys: from settings when given, otherwise generated once (ES256) and kept in the
 * database so every server process signs and verifies with the same keys.
 */
export class KeyStore {
  private readonly cache = new Map<KeyPurpose, Promise<LoadedKey[]>>();

  constructor(
    private readonly db: Database,
    private readonly configuredKey?: string
  ) {}

  /** The public keys of a purpose, as a JWKS. */
  async jwks(purpose: KeyPurpose): Promise<{ keys: JWK[] }> {
    return { keys: (await this.keys(purpose)).map((k) => k.publicJwk) };
  }

  /** Signs a JWT with the newest key of the purpose. */
  async sign(purpose: KeyPurpose, payload: JWTPayload, options: { expiresInSeconds: number; typ?: string }): Promise<string> {
    const [key] = await this.keys(purpose);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: options.typ ?? 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds)
      .setJti(typeof payload.jti === 'string' ? payload.jti : randomUUID())
      .sign(key.privateKey);
  }

  /** Verifies a JWT signed by one of the purpose's keys (algorithm allow-list, issuer, audience, expiry). */
  async verify(purpose: KeyPurpose, token: string, expected: { issuer: string; audience: string }): Promise<JWTVerifyResult> {
    const keys = await this.keys(purpose);
    return jwtVerify(
      token,
      async (header) => {
        const key = keys.find((k) => k.kid === header.kid && k.alg === header.alg);
        if (!key) {
          throw new Error('unknown signing key');
        }
        return key.publicKey;
      },
      { algorithms: [...SIGNING_ALGORITHMS], issuer: expected.issuer, audience: expected.audience }
    );
  }

  private keys(purpose: KeyPurpose): Promise<LoadedKey[]> {
    let loaded = this.cache.get(purpose);
    if (!loaded) {
      loaded = this.load(purpose);
      this.cache.set(purpose, loaded);
      loaded.catch(() => this.cache.delete(purpose));
    }
    return loaded;
  }

  private async load(purpose: KeyPurpose): Promise<LoadedKey[]> {
    if (purpose === 'server' && this.configuredKey) {
      return [await fromConfiguredKey(this.configuredKey)];
    }
    const rows = await new ResourceRepo(this.db).transaction(async (repo) => {
      await repo.lockKey(`auth_keys:${purpose}`);
      const found = await repo.queryable.query<KeyRow>('SELECT kid, alg, private_jwk, public_jwk FROM auth_keys WHERE purpose = $1 ORDER BY created_at DESC', [purpose]);
      if (found.rows.length > 0) {
        return found.rows;
      }
      const generated = await generateRow();
      await repo.queryable.query('INSERT INTO auth_keys (kid, purpose, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4, $5)', [
        generated.kid,
        purpose,
        generated.alg,
        generated.private_jwk,
        generated.public_jwk,
      ]);
      return [generated];
    });
    return Promise.all(
      rows.map(async (r) => ({
        kid: r.kid,
        alg: r.alg,
        privateKey: await importJWK(r.private_jwk, r.alg),
        publicKey: await importJWK(r.public_jwk, r.alg),
        publicJwk: r.public_jwk,
      }))
    );
  }
}

async function generateRow(): Promise<KeyRow> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg: 'ES256',
    private_jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    public_jwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
  };
}

/** Reads the AUTH_SIGNING_KEY setting: a private JWK (EC P-256 → ES256, RSA → RS256). */
async function fromConfiguredKey(text: string): Promise<LoadedKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new Error('AUTH_SIGNING_KEY must be a private JWK in JSON');
  }
  const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!alg || !jwk.d) {
    throw new Error('AUTH_SIGNING_KEY must be a private EC P-256 or RSA JWK');
  }
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
  const publicJwk = { ...publicPart, kid, alg, use: 'sig' };
  return { kid, alg, privateKey: await importJWK(jwk, alg), publicKey: await importJWK(publicJwk, alg), publicJwk };
}
