import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { DemoIdentityProvider, type DemoIdpSigner } from '../../src/auth/demo-idp/provider.js';
import type { DemoUser } from '../../src/auth/demo-idp/users.js';
import { demoIdpRoutes } from '../../src/http/routes/demo-idp.js';
import type { Database } from '../../src/repo/pool.js';
import { unique } from './fhir.js';

/**
 * A test upstream OpenID Connect provider (the server's DemoIdentityProvider code, on its own
 * loopback port, with its own signing key and the test's own users), standing in for Pro Santé
 * Connect: the app under test logs people in through it exactly as through the real one.
 */
export interface UpstreamIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Makes a person available on the login page (returns it, for its `id`). */
  addUser(user: DemoUser): DemoUser;
  close(): Promise<void>;
}

/** A Pro Santé Connect–style professional (médecin généraliste by default). */
export function pscProfessional(
  opts: { rpps?: string; given?: string; family?: string; profession?: string; speciality?: string; structure?: string; regulator?: boolean } = {}
): DemoUser {
  const rpps = opts.rpps ?? String(Math.floor(1e10 + Math.random() * 9e10));
  const nationalId = `8${rpps}`;
  const family = opts.family ?? unique('DOC').toUpperCase();
  const given = opts.given ?? 'Anne';
  return {
    id: `psc-${nationalId}${opts.regulator ? '-samu' : ''}`,
    label: `Dr ${given} ${family}`,
    kind: 'practitioner',
    claims: {
      sub: `f:psc:${randomUUID()}`,
      SubjectNameID: nationalId,
      given_name: given,
      family_name: family,
      preferred_username: nationalId,
      SubjectRefPro: {
        exercices: [
          {
            codeProfession: opts.profession ?? '10',
            codeSavoirFaire: opts.speciality ?? 'SM54',
            activities: [{ raisonSocialeSite: 'Cabinet de test', identifiantTechniqueDeLaStructure: opts.structure ?? 'R10000000001' }],
          },
        ],
      },
      Acces_Regulation_Medicale: opts.regulator ? 'VRAI' : 'FAUX',
    },
  };
}

/** A patient logging in with their INS (`ins` claim = `system|value`, no SubjectNameID). */
export function insPatient(system: string, value: string): DemoUser {
  return {
    id: `ins-${value}-${randomUUID().slice(0, 8)}`,
    label: `Patient ${value}`,
    kind: 'patient',
    claims: { sub: `patient-${randomUUID()}`, given_name: 'Jeanne', family_name: 'TEST', ins: `${system}|${value}` },
  };
}

/** A signer with its own ES256 key (not one of the app's keys: a separate provider). */
async function ownSigner(): Promise<DemoIdpSigner> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const publicJwk: JWK = { ...jwk, kid, alg: 'ES256', use: 'sig' };
  return {
    jwks: async () => ({ keys: [publicJwk] }),
    sign: (_purpose, payload, options) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid, typ: options.typ ?? 'JWT' })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + options.expiresInSeconds)
        .setJti(randomUUID())
        .sign(privateKey),
  };
}

/**
 * Starts the provider on loopback. `redirectUri` is the relying party's callback (the app's
 * `/auth/callback`); `db` holds the provider's pending requests and codes.
 */
export async function startUpstreamIdp(db: Database, redirectUri: string): Promise<UpstreamIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}/psc`;
  const clientId = 'dmp-fhir-server-test';
  const clientSecret = `secret-${randomUUID()}`;
  const users: DemoUser[] = [];
  const provider = new DemoIdentityProvider({
    issuer,
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri] }],
    users: async () => users,
    keys: await ownSigner(),
    db,
  });
  const app = express();
  app.use('/psc', demoIdpRoutes(provider));
  server.on('request', app);
  return {
    issuer,
    clientId,
    clientSecret,
    addUser(user) {
      users.push(user);
      return user;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
