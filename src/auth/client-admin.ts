import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { ASSERTION_ALGORITHMS } from './client-auth.js';
import { clientProblems, readClientsFile, type AuthMethod, type GrantType, type SmartClient } from './clients.js';
import { parseScopes } from './scopes.js';
import type { SystemRole } from '../policy/principal.js';

/*
 * Administration of the SMART clients file (`npm run client -- …`): building and validating a new
 * client, appending it atomically, generating ES384 key pairs and signing client assertions.
 * Pure enough to be unit-tested; `scripts/client.ts` is only the command line around it.
 */

/** A mistake of the operator (bad option, invalid client, duplicate id): the CLI exits with code 2. */
export class ClientAdminError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ClientAdminError';
  }
}

export type AssertionAlgorithm = (typeof ASSERTION_ALGORITHMS)[number];

/** Lifetime of the assertions we sign: under the server's 5-minute ceiling, with room for clock skew. */
export const ASSERTION_LIFETIME_S = 240;

const AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_basic', 'private_key_jwt'];
const GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];
/** client_id doubles as a file name (`<id>-key.json`): URL-unreserved characters only. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;
/** Members of a JWK that only a private (or symmetric) key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Default ceilings when `--scope` is not given: read-only. */
export const DEFAULT_APP_SCOPE = 'openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.rs';
export const DEFAULT_BACKEND_SCOPE = 'system/*.rs';

/** What the operator asked for (`add` options), before defaults and validation. */
export interface NewClientOptions {
  readonly id: string;
  readonly name?: string;
  readonly redirectUris?: readonly string[];
  /** `none`, `client_secret_basic` or `private_key_jwt`; default `private_key_jwt` for `client_credentials`, else `none`. */
  readonly auth?: string;
  /** For `client_secret_basic`; generated when absent. */
  readonly secret?: string;
  /** Public keys for `private_key_jwt` (see `readJwksFile`); a key pair is generated when neither this nor `jwksUri` is given. */
  readonly jwks?: { keys: JWK[] };
  readonly jwksUri?: string;
  /** The most the client may ever get; default `DEFAULT_APP_SCOPE` or `DEFAULT_BACKEND_SCOPE`. */
  readonly scope?: string;
  /** Default `authorization_code refresh_token` when redirect URIs are given, else `client_credentials`. */
  readonly grants?: readonly string[];
  /** A Backend Services client's DMP role (`insurer`, `operator`); none: no DMP data. */
  readonly role?: string;
}

export interface BuiltClient {
  readonly client: SmartClient;
  /** The client secret this call generated (print it once, it is not shown again). */
  readonly generatedSecret?: string;
  /** The private key this call generated (its public half is in `client.jwks`). */
  readonly privateJwk?: JWK;
}

/** An ES384 signing key pair, both halves as JWKs with `kid` = RFC 7638 thumbprint, `alg` and `use`. */
export async function generateSigningKey(): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const meta = { kid, alg: 'ES384', use: 'sig' };
  return { publicJwk: { ...pub, ...meta }, privateJwk: { ...(await exportJWK(privateKey)), ...meta } };
}

/** A strong client secret (256 bits, URL-safe). */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Problems of a public key set for `private_key_jwt` (empty when fine). */
export function jwksProblems(jwks: unknown): string[] {
  const keys = (jwks as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    return ['jwks must be a JWK Set with at least one key ({"keys": [...]})'];
  }
  const problems: string[] = [];
  keys.forEach((key: unknown, i) => {
    const jwk = (key ?? {}) as JWK;
    const label = `jwks key ${i + 1}${typeof jwk.kid === 'string' ? ` (kid ${jwk.kid})` : ''}`;
    if (typeof key !== 'object' || key === null) {
      problems.push(`${label} is not a JSON object`);
      return;
    }
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) {
      problems.push(`${label} holds private key material: register the public key only`);
    }
    if (typeof jwk.kid !== 'string' || jwk.kid === '') {
      problems.push(`${label} needs a kid (assertions name their key by kid)`);
    }
    if (!(jwk.kty === 'RSA' || (jwk.kty === 'EC' && jwk.crv === 'P-384'))) {
      problems.push(`${label} must be an RSA or EC P-384 key (SMART asymmetric authentication uses RS384 or ES384)`);
    }
    if (jwk.alg !== undefined && !(ASSERTION_ALGORITHMS as readonly string[]).includes(jwk.alg)) {
      problems.push(`${label} has alg ${jwk.alg}; use ${ASSERTION_ALGORITHMS.join(' or ')}`);
    }
  });
  return problems;
}

/** Reads a JWK Set file (`{"keys": [...]}`) or a single public JWK (wrapped into a set), and checks it. */
export function readJwksFile(file: string): { keys: JWK[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ClientAdminError([`cannot read the JWKS file ${file}: ${(err as Error).message}`]);
  }
  const set = (parsed && typeof parsed === 'object' && 'keys' in parsed ? parsed : { keys: [parsed] }) as { keys: JWK[] };
  const problems = jwksProblems(set);
  if (problems.length > 0) {
    throw new ClientAdminError(problems.map((p) => `${file}: ${p}`));
  }
  return { keys: set.keys };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Applies the defaults, generates what is missing (secret, key pair) and validates the client with
 * `clientProblems` plus the checks the file format does not make (id syntax, scopes, keys).
 * Throws `ClientAdminError` listing every problem.
 */
export async function buildClient(opts: NewClientOptions): Promise<BuiltClient> {
  const problems: string[] = [];
  const redirectUris = [...(opts.redirectUris ?? [])];
  const grants = opts.grants && opts.grants.length > 0 ? [...new Set(opts.grants)] : redirectUris.length > 0 ? ['authorization_code', 'refresh_token'] : ['client_credentials'];
  const unknownGrants = grants.filter((g) => !(GRANT_TYPES as readonly string[]).includes(g));
  if (unknownGrants.length > 0) {
    problems.push(`unknown grant type ${unknownGrants.join(', ')}: use ${GRANT_TYPES.join(', ')}`);
  }
  const auth = opts.auth ?? (grants.includes('client_credentials') ? 'private_key_jwt' : 'none');
  if (!(AUTH_METHODS as readonly string[]).includes(auth)) {
    problems.push(`unknown authentication method ${auth}: use ${AUTH_METHODS.join(', ')}`);
  }
  if (!CLIENT_ID_PATTERN.test(opts.id ?? '')) {
    problems.push('the client id must be 1 to 128 letters, digits, ".", "_", "~" or "-", starting with a letter or digit');
  }
  if (opts.secret !== undefined && auth !== 'client_secret_basic') {
    problems.push('a secret only goes with client_secret_basic');
  }
  if (opts.secret !== undefined && opts.secret.length < 16) {
    problems.push('the client secret must be at least 16 characters long');
  }
  if ((opts.jwks || opts.jwksUri) && auth !== 'private_key_jwt') {
    problems.push('a JWKS only goes with private_key_jwt');
  }
  if (opts.jwks && opts.jwksUri) {
    problems.push('give either a JWKS file or a JWKS URI, not both');
  }
  if (opts.jwksUri !== undefined && !isHttpUrl(opts.jwksUri)) {
    problems.push('the JWKS URI must be an absolute http(s) URL');
  }
  if (opts.jwks) {
    problems.push(...jwksProblems(opts.jwks));
  }
  const scope = (opts.scope ?? (grants.includes('client_credentials') ? DEFAULT_BACKEND_SCOPE : DEFAULT_APP_SCOPE)).split(/\s+/).filter(Boolean).join(' ');
  const unknownScopes = parseScopes(scope).unknown;
  if (unknownScopes.length > 0) {
    problems.push(`unknown scope ${unknownScopes.join(', ')}`);
  }
  if (scope === '') {
    problems.push('the scope must name at least one scope');
  }

  let generatedSecret: string | undefined;
  let privateJwk: JWK | undefined;
  let secret = opts.secret;
  let jwks = opts.jwks;
  if (problems.length === 0 && auth === 'client_secret_basic' && secret === undefined) {
    secret = generatedSecret = generateClientSecret();
  }
  if (problems.length === 0 && auth === 'private_key_jwt' && !jwks && !opts.jwksUri) {
    const pair = await generateSigningKey();
    privateJwk = pair.privateJwk;
    jwks = { keys: [pair.publicJwk] };
  }
  const client: SmartClient = {
    client_id: opts.id,
    ...(opts.name ? { client_name: opts.name } : {}),
    redirect_uris: redirectUris,
    token_endpoint_auth_method: auth as AuthMethod,
    ...(secret !== undefined ? { client_secret: secret } : {}),
    ...(jwks ? { jwks } : {}),
    ...(opts.jwksUri ? { jwks_uri: opts.jwksUri } : {}),
    scope,
    grant_types: grants as GrantType[],
    ...(opts.role !== undefined ? { dmp_role: opts.role as SystemRole } : {}),
  };
  if (problems.length === 0) {
    problems.push(...clientProblems(client).map((p) => p.replace(/^[^:]*: /, '')));
  }
  if (problems.length > 0) {
    throw new ClientAdminError(problems.map((p) => `${opts.id || '?'}: ${p}`));
  }
  return { client, generatedSecret, privateJwk };
}

/** Writes `content` to `file` only if `file` does not exist, atomically; false when it already existed. */
export function writeFileExclusive(file: string, content: string, mode: number): boolean {
  const temp = tempPathFor(file);
  fs.writeFileSync(temp, content, { mode, flag: 'wx' });
  fs.chmodSync(temp, mode);
  try {
    // link() fails with EEXIST when the target exists: an atomic "create if absent" of a complete file.
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      return false;
    }
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      // A file system without hard links: exclusive create, not atomic for readers but never overwriting.
      try {
        fs.writeFileSync(file, content, { mode, flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          return false;
        }
        throw e;
      }
      fs.chmodSync(file, mode);
      return true;
    }
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** Replaces `file` atomically (write a temporary file next to it, then rename over it). */
export function writeFileAtomic(file: string, content: string, mode: number): void {
  const temp = tempPathFor(file);
  try {
    fs.writeFileSync(temp, content, { mode, flag: 'wx' });
    fs.chmodSync(temp, mode);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Pretty JSON with a final newline, as the clients and key files are written. */
export function toJsonFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Appends a client to the clients file (created if missing), atomically; the file is left untouched
 * when the existing file is invalid, the client is invalid or its id is already registered.
 * An existing file keeps its mode; a new one is 0644, or 0600 when it holds a client secret.
 */
export function appendClient(file: string, client: SmartClient): void {
  const problems = clientProblems(client);
  if (problems.length > 0) {
    throw new ClientAdminError(problems);
  }
  const existing = registeredClients(file);
  if (existing.some((c) => c.client_id === client.client_id)) {
    throw new ClientAdminError([`${client.client_id}: a client with this id is already registered in ${file}`]);
  }
  const content = toJsonFile([...existing, client]);
  if (fs.existsSync(file)) {
    writeFileAtomic(file, content, fs.statSync(file).mode & 0o777);
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!writeFileExclusive(file, content, client.client_secret ? 0o600 : 0o644)) {
    // Created by someone else meanwhile: start over on what is there now.
    appendClient(file, client);
  }
}

/** The clients of a file, a broken file being the operator's problem (`ClientAdminError`). */
export function registeredClients(file: string): SmartClient[] {
  try {
    return readClientsFile(file);
  } catch (err) {
    throw new ClientAdminError([`cannot use the clients file: ${(err as Error).message}`]);
  }
}

export interface AddedClient extends BuiltClient {
  /** Where the generated private key was written (0600), when one was generated. */
  readonly keyFile?: string;
}

/**
 * `add`: builds the client, refuses a duplicate id, writes a generated private key next to the
 * clients file (`<id>-key.json`, 0600, never replacing one), then appends the client. On any
 * error nothing is left behind: the clients file is untouched and a key written here is removed.
 */
export async function addClient(clientsFile: string, opts: NewClientOptions): Promise<AddedClient> {
  const built = await buildClient(opts);
  const { client } = built;
  if (registeredClients(clientsFile).some((c) => c.client_id === client.client_id)) {
    throw new ClientAdminError([`${client.client_id}: a client with this id is already registered in ${clientsFile}`]);
  }
  let keyFile: string | undefined;
  if (built.privateJwk) {
    keyFile = keyFileFor(clientsFile, client.client_id);
    writePrivateKeyFile(keyFile, built.privateJwk);
  }
  try {
    appendClient(clientsFile, client);
  } catch (err) {
    if (keyFile) {
      fs.rmSync(keyFile, { force: true });
    }
    throw err;
  }
  return { ...built, keyFile };
}

/** Where `add` stores the private key it generates for a client: next to the clients file. */
export function keyFileFor(clientsFile: string, clientId: string): string {
  return path.join(path.dirname(clientsFile), `${clientId}-key.json`);
}

/** The demo backend's private key, written by the demo data. */
export function demoBackendKeyFile(dataDir: string): string {
  return path.join(dataDir, 'demo-backend-key.json');
}

/** The key file `assertion` uses when `--key` is not given. */
export function defaultAssertionKeyFile(clientId: string, where: { clientsFile: string; dataDir: string }): string {
  return clientId === 'demo-backend' ? demoBackendKeyFile(where.dataDir) : keyFileFor(where.clientsFile, clientId);
}

/** Writes a private JWK, readable by its owner only (0600); refuses to replace an existing key unless told. */
export function writePrivateKeyFile(file: string, jwk: JWK, options: { overwrite?: boolean } = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (options.overwrite) {
    writeFileAtomic(file, toJsonFile(jwk), 0o600);
  } else if (!writeFileExclusive(file, toJsonFile(jwk), 0o600)) {
    throw new ClientAdminError([`${file} already exists: not replacing a key (move it away, or pass --jwks-file / --jwks-uri)`]);
  }
}

/** Reads a private JWK file (what `add` and the demo data write). */
export function readPrivateJwk(file: string): JWK {
  let jwk: JWK;
  try {
    jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  } catch (err) {
    throw new ClientAdminError([`cannot read the private key ${file}: ${(err as Error).message}`]);
  }
  if (!jwk || typeof jwk !== 'object' || typeof jwk.d !== 'string') {
    throw new ClientAdminError([`${file} is not a private JWK (no "d" member)`]);
  }
  return jwk;
}

/** ES384 for an EC P-384 key, RS384 for an RSA key (or the key's own `alg`, when it is one of them). */
export function assertionAlgorithmFor(jwk: JWK): AssertionAlgorithm {
  if (jwk.alg !== undefined) {
    if (!(ASSERTION_ALGORITHMS as readonly string[]).includes(jwk.alg)) {
      throw new ClientAdminError([`the key's alg is ${jwk.alg}; client assertions use ${ASSERTION_ALGORITHMS.join(' or ')}`]);
    }
    return jwk.alg as AssertionAlgorithm;
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') {
    return 'ES384';
  }
  if (jwk.kty === 'RSA') {
    return 'RS384';
  }
  throw new ClientAdminError(['the key must be an EC P-384 key (ES384) or an RSA key (RS384)']);
}

export interface AssertionOptions {
  readonly clientId: string;
  readonly privateJwk: JWK;
  /** The token endpoint URL (`${BASE_URL}/auth/token`). */
  readonly audience: string;
  /** Seconds since the epoch; default now. */
  readonly now?: number;
  /** Default `ASSERTION_LIFETIME_S`. */
  readonly lifetimeSeconds?: number;
}

/**
 * A SMART Backend Services / RFC 7523 client assertion: header `alg` (ES384 or RS384), `kid`,
 * `typ: JWT`; claims iss = sub = client id, aud = token URL, iat, exp, random jti.
 * The kid is the key's own, else its RFC 7638 thumbprint (what `add` registers).
 */
export async function signClientAssertion(opts: AssertionOptions): Promise<string> {
  const alg = assertionAlgorithmFor(opts.privateJwk);
  const { kid: ownKid, alg: _alg, use: _use, key_ops: _ops, ...material } = opts.privateJwk;
  const kid = ownKid ?? (await calculateJwkThumbprint(opts.privateJwk, 'sha256'));
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(material, alg);
  } catch (err) {
    throw new ClientAdminError([`the private key cannot be used for ${alg}: ${(err as Error).message}`]);
  }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(opts.clientId)
    .setSubject(opts.clientId)
    .setAudience(opts.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.lifetimeSeconds ?? ASSERTION_LIFETIME_S))
    .setJti(randomUUID())
    .sign(key);
}

/** One client for `list`: everything but secrets and keys. */
export function describeClient(c: SmartClient): { id: string; name: string; auth: string; grants: string; role: string; scope: string } {
  return {
    id: c.client_id,
    name: c.client_name ?? '',
    auth: c.token_endpoint_auth_method,
    grants: c.grant_types.join(','),
    role: c.dmp_role ?? '-',
    scope: c.scope,
  };
}
