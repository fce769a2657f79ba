import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Database } from '../repo/pool.js';
import { ACCESS_MODES, SYSTEM_ROLES, type AccessMode, type AuthenticatedPrincipal, type ProfessionalIdentity, type SystemRole } from '../policy/principal.js';
import type { Grant } from './grant.js';
import type { KeyStore } from './keys.js';
import { parseScopes } from './scopes.js';

/** Where tokens are issued and for which audience. */
export interface TokenSettings {
  /** Issuer of our tokens: the server's base URL. */
  readonly issuer: string;
  /** The FHIR base: the only audience our access tokens are valid for. */
  readonly audience: string;
  readonly accessTokenTtlSeconds: number;
}

/** Why a bearer token was refused (never says more than needed). */
export class InvalidTokenError extends Error {}

interface AccessClaims extends JWTPayload {
  client_id: string;
  scope: string;
  kind: 'practitioner' | 'patient' | 'system';
  patient?: string;
  fhirUser?: string;
  access_mode: AccessMode;
  access_reason?: string;
  fam: string;
  prof?: { nid: string; pid: string; prof?: string; spec?: string; struct?: string; reg: boolean };
  self?: string;
  /** A system client's DMP role (its registration's `dmp_role`). */
  sys_role?: SystemRole;
}

/** Mints and verifies SMART access tokens: short-lived JWTs with a `jti`, revocable through the database. */
export class TokenService {
  constructor(
    private readonly db: Database,
    private readonly keys: KeyStore,
    readonly settings: TokenSettings
  ) {}

  async issueAccessToken(grant: Grant, ttlSeconds = this.settings.accessTokenTtlSeconds): Promise<{ token: string; expiresIn: number; jti: string }> {
    const jti = randomUUID();
    const s = grant.subject;
    const claims: AccessClaims = {
      sub: s.kind === 'practitioner' ? `Practitioner/${s.professional.practitionerId}` : s.kind === 'patient' ? `Patient/${s.patientId}` : grant.clientId,
      aud: this.settings.audience,
      iss: this.settings.issuer,
      jti,
      client_id: grant.clientId,
      scope: grant.scope,
      kind: s.kind,
      access_mode: grant.accessMode,
      fam: grant.familyId,
      ...(grant.patientId ? { patient: grant.patientId } : {}),
      ...(grant.fhirUser ? { fhirUser: grant.fhirUser } : {}),
      ...(grant.accessReason ? { access_reason: grant.accessReason } : {}),
      ...(s.kind === 'practitioner' ? { prof: professionalClaim(s.professional) } : {}),
      ...(s.kind === 'patient' ? { self: s.patientId } : {}),
      ...(s.kind === 'system' && s.role ? { sys_role: s.role } : {}),
    };
    const ttl = Math.min(ttlSeconds, this.settings.accessTokenTtlSeconds);
    const token = await this.keys.sign('server', claims, { expiresInSeconds: ttl, typ: 'at+jwt' });
    return { token, expiresIn: ttl, jti };
  }

  /** Verifies signature, algorithm, issuer, audience, expiry, then the revocation lists. */
  async verifyAccessToken(token: string): Promise<AuthenticatedPrincipal> {
    let payload: AccessClaims;
    try {
      payload = (await this.keys.verify('server', token, { issuer: this.settings.issuer, audience: this.settings.audience })).payload as AccessClaims;
    } catch (err) {
      throw new InvalidTokenError(describeJoseError(err));
    }
    if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string' || !ACCESS_MODES.includes(payload.access_mode)) {
      throw new InvalidTokenError('the token lacks required claims');
    }
    if (await this.isRevoked(payload.jti, payload.fam)) {
      throw new InvalidTokenError('the token was revoked');
    }
    return toPrincipal(payload);
  }

  /** Claims to repeat in an introspection answer (RFC 7662 + SMART), or undefined if inactive. */
  async introspect(token: string): Promise<Record<string, unknown> | undefined> {
    try {
      const principal = await this.verifyAccessToken(token);
      const { payload } = await this.keys.verify('server', token, { issuer: this.settings.issuer, audience: this.settings.audience });
      return {
        active: true,
        scope: principal.token.scope,
        client_id: principal.token.clientId,
        exp: payload.exp,
        iat: payload.iat,
        sub: payload.sub,
        iss: payload.iss,
        aud: payload.aud,
        token_type: 'Bearer',
        ...(principal.token.patientId ? { patient: principal.token.patientId } : {}),
        ...(principal.token.fhirUser ? { fhirUser: principal.token.fhirUser } : {}),
        access_mode: principal.token.accessMode,
      };
    } catch (err) {
      if (err instanceof InvalidTokenError) {
        return undefined;
      }
      throw err;
    }
  }

  /** Revokes one access token by its id until it would have expired anyway. */
  async revokeAccessToken(token: string): Promise<boolean> {
    try {
      const { payload } = await this.keys.verify('server', token, { issuer: this.settings.issuer, audience: this.settings.audience });
      if (typeof payload.jti === 'string' && typeof payload.exp === 'number') {
        await this.db.query('INSERT INTO auth_revoked (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING', [payload.jti, new Date(payload.exp * 1000).toISOString()]);
        return true;
      }
    } catch {
      // not one of our access tokens: nothing to revoke
    }
    return false;
  }

  private async isRevoked(jti: string, familyId: string | undefined): Promise<boolean> {
    const { rows } = await this.db.query<{ revoked: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM auth_revoked WHERE jti = $1)
           OR EXISTS (SELECT 1 FROM auth_families_revoked WHERE family_id = $2) AS revoked`,
      [jti, familyId ?? '']
    );
    return rows[0]?.revoked === true;
  }
}

function professionalClaim(p: ProfessionalIdentity): AccessClaims['prof'] {
  return { nid: p.nationalId, pid: p.practitionerId, prof: p.profession, spec: p.speciality, struct: p.structure, reg: p.regulator };
}

function toPrincipal(c: AccessClaims): AuthenticatedPrincipal {
  const token = {
    clientId: c.client_id,
    scope: c.scope,
    scopes: parseScopes(c.scope).clinical,
    patientId: c.patient,
    fhirUser: c.fhirUser,
    accessMode: c.access_mode,
    accessReason: c.access_reason,
    jti: c.jti as string,
  };
  if (c.kind === 'practitioner' && c.prof) {
    const professional: ProfessionalIdentity = {
      nationalId: c.prof.nid,
      practitionerId: c.prof.pid,
      profession: c.prof.prof,
      speciality: c.prof.spec,
      structure: c.prof.struct,
      regulator: c.prof.reg === true,
    };
    return { kind: 'practitioner', professional, token };
  }
  if (c.kind === 'patient' && c.self) {
    return { kind: 'patient', patientId: c.self, token };
  }
  if (c.kind === 'system') {
    return { kind: 'system', token, ...(c.sys_role && SYSTEM_ROLES.includes(c.sys_role) ? { role: c.sys_role } : {}) };
  }
  throw new InvalidTokenError('the token does not say who acts');
}

function describeJoseError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'the token has expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `the token's ${(err as { claim?: string }).claim ?? 'claims'} claim is not accepted here`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'the token is signed with an algorithm this server does not accept';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'the token signature is invalid';
    default:
      return 'the token is not a valid access token of this server';
  }
}
