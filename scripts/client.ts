/**
 * `npm run client -- <command>`: manage the registered SMART clients ($SMART_CLIENTS_FILE).
 *
 *   add --id <id> [--name <n>] [--redirect-uri <url>]... [--auth none|client_secret_basic|private_key_jwt]
 *       [--secret <s>] [--jwks-file <f> | --jwks-uri <url>] [--scope "<scopes>"] [--grant <grant type>]...
 *   list
 *   assertion <client_id> [--key <private-jwk-file>] [--aud <token-url>]
 *
 * Exit codes: 0 done, 2 usage or validation error (nothing written), 1 unexpected failure.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  ClientAdminError,
  DEFAULT_APP_SCOPE,
  DEFAULT_BACKEND_SCOPE,
  addClient,
  defaultAssertionKeyFile,
  describeClient,
  readJwksFile,
  readPrivateJwk,
  registeredClients,
  signClientAssertion,
} from '../src/auth/client-admin.js';
import { readClientsFile } from '../src/auth/clients.js';
import { loadConfig, type Config } from '../src/config/index.js';

const USAGE = `Usage: npm run client -- <command> [options]

Commands:
  add --id <id>                 register a client in the SMART clients file
      [--name <name>]
      [--redirect-uri <url>]...  (repeatable; exact match at /auth/authorize)
      [--auth none|client_secret_basic|private_key_jwt]
                                 default: private_key_jwt with client_credentials, else none
      [--secret <secret>]        client_secret_basic only; generated (and printed once) when absent
      [--jwks-file <file> | --jwks-uri <url>]
                                 private_key_jwt only; an ES384 key pair is generated when absent
      [--scope "<scopes>"]       the most the client may get; default
                                 "${DEFAULT_APP_SCOPE}"
                                 or "${DEFAULT_BACKEND_SCOPE}" for client_credentials
      [--grant authorization_code|refresh_token|client_credentials]...
                                 default: authorization_code + refresh_token with a redirect URI,
                                 else client_credentials
      [--role insurer|operator]  a Backend Services client's DMP role; without one it gets no
                                 DMP data (insurer: opens DMPs, feeds REMB, looks records up;
                                 operator: the host's technical client, held by its scopes only)
  list                          the registered clients (never their secrets)
  assertion <client_id>         print a signed client assertion (private_key_jwt) for curl
      [--key <private-jwk-file>] default <clients file dir>/<client_id>-key.json
                                 ($DATA_DIR/demo-backend-key.json for demo-backend)
      [--aud <token-url>]        default $BASE_URL/auth/token

Settings: SMART_CLIENTS_FILE (default $DATA_DIR/smart-clients.json), DATA_DIR, BASE_URL.
`;

class UsageError extends Error {}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function add(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      auth: { type: 'string' },
      secret: { type: 'string' },
      'jwks-file': { type: 'string' },
      'jwks-uri': { type: 'string' },
      scope: { type: 'string' },
      grant: { type: 'string', multiple: true },
      role: { type: 'string' },
    },
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${positionals[0]}`);
  }
  if (!values.id) {
    throw new UsageError('add needs --id <client id>');
  }
  if (values['jwks-file'] && values['jwks-uri']) {
    throw new UsageError('give either --jwks-file or --jwks-uri, not both');
  }
  const file = config.auth.clientsFile;
  const added = await addClient(file, {
    id: values.id,
    name: values.name,
    redirectUris: values['redirect-uri'],
    auth: values.auth,
    secret: values.secret,
    jwks: values['jwks-file'] ? readJwksFile(values['jwks-file']) : undefined,
    jwksUri: values['jwks-uri'],
    scope: values.scope,
    grants: values.grant,
    role: values.role,
  });
  const { client, keyFile } = added;
  out(`Registered client "${client.client_id}" in ${file}`);
  out(`  authentication: ${client.token_endpoint_auth_method}`);
  out(`  grant types:    ${client.grant_types.join(', ')}`);
  out(`  scope:          ${client.scope}`);
  if (client.dmp_role) {
    out(`  DMP role:       ${client.dmp_role}`);
  }
  if (client.redirect_uris.length > 0) {
    out(`  redirect URIs:  ${client.redirect_uris.join(' ')}`);
  }
  if (added.generatedSecret) {
    out('');
    out(`client_secret (shown only now, store it safely): ${added.generatedSecret}`);
  }
  if (keyFile) {
    out('');
    out(`Private key (ES384, kid ${String(added.privateJwk?.kid)}) written to ${keyFile} (mode 0600).`);
    out(`Sign a client assertion with: npm run -s client -- assertion ${client.client_id}`);
  }
  if (client.client_secret && (fs.statSync(file).mode & 0o004) !== 0) {
    err(`Warning: ${file} holds a client secret and is readable by every user: chmod o-r it.`);
  }
}

function list(args: string[], config: Config): void {
  const { positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: {} });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${positionals[0]}`);
  }
  const file = config.auth.clientsFile;
  const clients = registeredClients(file);
  if (clients.length === 0) {
    out(`No client registered in ${file}`);
    return;
  }
  const rows = clients.map(describeClient);
  const header = { id: 'CLIENT_ID', name: 'NAME', auth: 'AUTH', grants: 'GRANTS', role: 'DMP_ROLE', scope: 'SCOPE' };
  const width = (k: 'id' | 'name' | 'auth' | 'grants' | 'role'): number => Math.max(header[k].length, ...rows.map((r) => r[k].length));
  const w = { id: width('id'), name: width('name'), auth: width('auth'), grants: width('grants'), role: width('role') };
  for (const r of [header, ...rows]) {
    out(`${r.id.padEnd(w.id)}  ${r.name.padEnd(w.name)}  ${r.auth.padEnd(w.auth)}  ${r.grants.padEnd(w.grants)}  ${r.role.padEnd(w.role)}  ${r.scope}`);
  }
}

async function assertion(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { key: { type: 'string' }, aud: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    throw new UsageError('assertion needs exactly one client id');
  }
  const clientId = positionals[0];
  const keyFile = values.key ?? defaultAssertionKeyFile(clientId, { clientsFile: config.auth.clientsFile, dataDir: config.dataDir });
  const privateJwk = readPrivateJwk(keyFile);
  const token = await signClientAssertion({ clientId, privateJwk, audience: values.aud ?? `${config.baseUrl}/auth/token` });
  warnIfUnregistered(config.auth.clientsFile, clientId, privateJwk.kid);
  out(token);
}

/** Advice only (stderr): the assertion is still printed, the server may read another clients file. */
function warnIfUnregistered(file: string, clientId: string, kid: string | undefined): void {
  let client;
  try {
    client = readClientsFile(file).find((c) => c.client_id === clientId);
  } catch {
    return;
  }
  if (!client) {
    err(`Warning: ${clientId} is not registered in ${file}`);
  } else if (client.token_endpoint_auth_method !== 'private_key_jwt') {
    err(`Warning: ${clientId} is registered for ${client.token_endpoint_auth_method}, not private_key_jwt`);
  } else if (client.jwks && kid && !client.jwks.keys.some((k) => k.kid === kid)) {
    err(`Warning: no key with kid ${kid} in the registered jwks of ${clientId}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    (command ? out : err)(USAGE);
    return command ? 0 : 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    err(`Invalid configuration: ${(e as Error).message}`);
    return 2;
  }
  try {
    switch (command) {
      case 'add':
        await add(rest, config);
        return 0;
      case 'list':
        list(rest, config);
        return 0;
      case 'assertion':
        await assertion(rest, config);
        return 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith?.('ERR_PARSE_ARGS')) {
      err(`Error: ${(e as Error).message}\n`);
      err(USAGE);
      return 2;
    }
    if (e instanceof ClientAdminError) {
      for (const problem of e.problems) {
        err(`Error: ${problem}`);
      }
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`Failed: ${(e as Error)?.stack ?? String(e)}`);
    process.exitCode = 1;
  }
);
