import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Bundle, BundleEntry, DocumentReference, Organization, Patient } from '@medplum/fhirtypes';
import { INS_NIR_TEST_SYSTEM } from '../../src/dmp/identifiers.js';
import { buildDemoBundle } from '../../scripts/seed/demo-bundle.js';
import { killServer, spawnServer, tryConnect, waitFor, waitForExit, waitUntilReady, type ChildServer } from '../helpers/child-server.js';
import { unique } from '../helpers/fhir.js';
import { postForm } from '../helpers/auth.js';
import { demoBackendKeyFile, readPrivateJwk, signClientAssertion } from '../../src/auth/client-admin.js';
import { DEMO_BACKEND_ID } from '../../src/auth/demo-clients.js';

const STARTUP_TIMEOUT_MS = 60_000;
const WAIT_TIMEOUT_MS = 20_000;
/** Data folder of the server under test: its demo backend key signs the test's client assertions. */
let currentDataDir = '';
const tokens = new Map<number, string>();

/** A real access token of the demo backend client (client_credentials with its key from DATA_DIR). */
async function tokenFor(child: ChildServer): Promise<string> {
  const cached = tokens.get(child.port);
  if (cached) {
    return cached;
  }
  const tokenUrl = `${child.baseUrl}/auth/token`;
  const assertion = await signClientAssertion({ clientId: DEMO_BACKEND_ID, privateJwk: readPrivateJwk(demoBackendKeyFile(currentDataDir)), audience: tokenUrl });
  const res = await postForm(tokenUrl, {
    grant_type: 'client_credentials',
    scope: 'system/*.cruds',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  tokens.set(child.port, res.body.access_token as string);
  return res.body.access_token as string;
}
const TEST_ID_SYSTEM = 'urn:test:process';

const demo = buildDemoBundle();
const demoPatients = (demo.entry ?? []).map((e) => e.resource).filter((r): r is Patient => r?.resourceType === 'Patient');
const demoCount = (type: string): number => (demo.entry ?? []).filter((e) => e.resource?.resourceType === type).length;
const demoFamilies = demoPatients.map((p) => p.name?.[0].family as string);
const demoIns = demoPatients.map((p) => p.identifier?.find((i) => i.system === INS_NIR_TEST_SYSTEM)?.value as string);

interface Answer {
  status: number;
  body: string;
  headers?: http.IncomingHttpHeaders;
}

/** GET (or other) on the child, relative to its base URL. */
async function call(child: ChildServer, pathAndQuery: string, init: RequestInit = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) {
    headers.set('accept', 'application/fhir+json');
  }
  if (!headers.has('authorization') && pathAndQuery.startsWith('/fhir/')) {
    headers.set('authorization', `Bearer ${await tokenFor(child)}`);
  }
  const res = await fetch(`${child.baseUrl}${pathAndQuery}`, { ...init, headers });
  return { status: res.status, body: await res.text() };
}

async function total(child: ChildServer, query: string): Promise<number> {
  const answer = await call(child, `/fhir/${query}${query.includes('?') ? '&' : '?'}_summary=count`);
  expect(answer.status, answer.body).to.equal(200);
  return (JSON.parse(answer.body) as Bundle).total as number;
}

/** The counts that tell whether the demo data is there once. */
async function demoCounts(child: ChildServer): Promise<Record<string, number>> {
  const counts: Record<string, number> = {
    Patient: await total(child, `Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|`)}`),
    Practitioner: await total(child, 'Practitioner'),
    DocumentReference: await total(child, 'DocumentReference'),
    Consent: await total(child, 'Consent'),
  };
  for (const ins of demoIns) {
    counts[`INS ${ins}`] = await total(child, `Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${ins}`)}`);
  }
  return counts;
}

function expectedDemoCounts(): Record<string, number> {
  const counts: Record<string, number> = {
    Patient: demoCount('Patient'),
    Practitioner: demoCount('Practitioner'),
    DocumentReference: demoCount('DocumentReference'),
    Consent: demoCount('Consent'),
  };
  for (const ins of demoIns) {
    counts[`INS ${ins}`] = 1;
  }
  return counts;
}

/** A transaction of `n` Organizations tagged with `marker`. */
function organizationsTransaction(marker: string, n: number): Bundle {
  const entry: BundleEntry[] = Array.from({ length: n }, (_, i) => ({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: { resourceType: 'Organization', identifier: [{ system: TEST_ID_SYSTEM, value: marker }], name: `Org ${marker} ${i}` } satisfies Organization,
    request: { method: 'POST', url: 'Organization' },
  }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

interface InFlight {
  /** Resolves once the server has read the request headers (it answered 100 Continue). */
  readonly accepted: Promise<void>;
  /** Sends the body; the server can only answer after this. */
  sendBody(): void;
  readonly response: Promise<Answer>;
}

/**
 * A POST the server has started to handle but cannot finish until sendBody() is called: the
 * client sends `Expect: 100-continue` and holds the body back until the server says continue.
 */
function startInFlightPost(child: ChildServer, path: string, body: string, token: string): InFlight {
  let onContinue: () => void = () => undefined;
  const accepted = new Promise<void>((resolve) => {
    onContinue = resolve;
  });
  // A keep-alive client, like most: it leaves the connection open after the answer.
  const agent = new http.Agent({ keepAlive: true });
  const req = http.request(`${child.baseUrl}${path}`, {
    method: 'POST',
    agent,
    headers: {
      'content-type': 'application/fhir+json',
      accept: 'application/fhir+json',
      'content-length': String(Buffer.byteLength(body)),
      authorization: `Bearer ${token}`,
      expect: '100-continue',
    },
  });
  req.on('continue', () => onContinue());
  const response = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { accepted, sendBody: () => req.end(body), response };
}

function parsedLogs(child: ChildServer): Record<string, unknown>[] {
  return child.stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function withTimeout<T>(what: string, promise: Promise<T>, ms = WAIT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('server process (node src/server.ts, embedded PGlite, demo data)', function () {
  this.timeout(3 * STARTUP_TIMEOUT_MS);
  let dataDir: string;
  let first: ChildServer | undefined;
  let second: ChildServer | undefined;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmp-process-test-'));
    currentDataDir = dataDir;
    first = await spawnServer({ DATA_DIR: dataDir, SEED_DEMO_DATA: 'true', SHUTDOWN_TIMEOUT_MS: '30000' });
    await waitUntilReady(first, STARTUP_TIMEOUT_MS);
  });

  after(async () => {
    await killServer(first);
    await killServer(second);
    if (dataDir) {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  function running(): ChildServer {
    expect(first?.isRunning(), 'the first server process is running').to.equal(true);
    return first as ChildServer;
  }

  describe('first start with SEED_DEMO_DATA=true', () => {
    it('when the server has started, then /healthz and /readyz answer 200 on embedded PGlite', async () => {
      const health = await call(running(), '/healthz');
      expect(health.status).to.equal(200);
      const ready = await call(running(), '/readyz');
      expect(ready.status).to.equal(200);
      expect(JSON.parse(ready.body)).to.deep.include({ database: 'pglite' });
    });

    it('when the server has started, then the demo Patients are there with their test INS', async () => {
      const answer = await call(running(), `/fhir/Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|`)}&_count=100`);
      expect(answer.status).to.equal(200);
      const bundle = JSON.parse(answer.body) as Bundle<Patient>;
      const found = (bundle.entry ?? []).map((e) => e.resource?.identifier?.find((i) => i.system === INS_NIR_TEST_SYSTEM)?.value);
      expect(found).to.have.members(demoIns);
    });

    it('when the server has started, then the demo Practitioners, DocumentReferences and Consents are there, once each', async () => {
      expect(await demoCounts(running())).to.deep.equal(expectedDemoCounts());
    });

    it('when the demo DocumentReferences are read, then each points to a stored demo Patient and a readable Binary', async () => {
      const answer = await call(running(), '/fhir/DocumentReference?_count=100');
      const docs = (JSON.parse(answer.body) as Bundle<DocumentReference>).entry?.map((e) => e.resource as DocumentReference) ?? [];
      expect(docs).to.have.length(demoCount('DocumentReference'));
      for (const doc of docs) {
        expect(doc.subject?.reference).to.match(/^Patient\/[^/]+$/);
        expect((await call(running(), `/fhir/${doc.subject?.reference}`)).status).to.equal(200);
        const url = doc.content[0].attachment.url as string;
        // ITI-68: the content is retrieved from this server, at an absolute URL on its FHIR base.
        expect(url).to.match(new RegExp(`^${running().baseUrl}/fhir/Binary/[^/]+$`));
        const binary = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(running())}` } });
        expect(binary.status).to.equal(200);
        expect(binary.headers.get('content-type')).to.contain(doc.content[0].attachment.contentType as string);
        expect((await binary.arrayBuffer()).byteLength).to.equal(doc.content[0].attachment.size);
      }
    });

    it('when the server has started, then its log says the demo data was loaded, once', async () => {
      await waitFor('the listening log line', WAIT_TIMEOUT_MS, () => running().stdout.some((l) => l.includes('"msg":"listening"')));
      const loaded = parsedLogs(running()).filter((l) => l.msg === 'demo data loaded');
      expect(loaded).to.have.length(1);
      expect(loaded[0].resources).to.equal(demo.entry?.length);
    });
  });

  describe('logs', () => {
    const requestId = unique('req-');
    let bearerToken = '';

    before(async () => {
      const child = running();
      bearerToken = await tokenFor(child);
      const auth = { authorization: `Bearer ${bearerToken}` };
      // Requests carrying identity traits and the token in every place a log could pick them up.
      await call(child, `/fhir/Patient?identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${demoIns[1]}`)}`, { headers: auth });
      await call(child, `/fhir/Patient?name=${demoFamilies[2]}&unknown-param=${demoIns[2]}`, { headers: auth });
      await call(child, '/fhir/Patient', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...demoPatients[3], birthDate: undefined }),
      });
      await call(child, '/fhir/Patient', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/fhir+json' },
        body: `{"resourceType":"Patient","name":[{"family":"${demoFamilies[3]}"`,
      });
      await call(child, '/fhir/Patient/_search', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: `family=${demoFamilies[1]}&identifier=${encodeURIComponent(`${INS_NIR_TEST_SYSTEM}|${demoIns[0]}`)}`,
      });
      await call(child, `/fhir/Patient?family=${demoFamilies[0]}`, { headers: { ...auth, 'x-request-id': 'not a sane id!' } });
      await call(child, `/fhir/Patient?family=${demoFamilies[0]}&given=CLAIRE`, { headers: { ...auth, 'x-request-id': requestId } });
      // Access log lines reach us through a pipe, after the answers: wait for the last request's line.
      await waitFor('the access log line of the last request', WAIT_TIMEOUT_MS, () => child.stdout.some((l) => l.includes(requestId)));
    });

    it('when the server logs, then every stdout line is one JSON object', () => {
      for (const line of running().stdout) {
        expect(() => JSON.parse(line), line).to.not.throw();
        expect(JSON.parse(line)).to.be.an('object');
      }
    });

    it('when a request is served, then its access log line carries a requestId, method, path and status', () => {
      const requests = parsedLogs(running()).filter((l) => l.msg === 'request');
      expect(requests.length).to.be.greaterThan(5);
      for (const line of requests) {
        expect(line.requestId, JSON.stringify(line)).to.be.a('string').and.not.equal('');
        expect(line.method).to.be.a('string');
        expect(line.path).to.be.a('string');
        expect(line.status).to.be.a('number');
      }
    });

    it('when the client sends a sane X-Request-Id, then the log line uses it', () => {
      const mine = parsedLogs(running()).filter((l) => l.requestId === requestId);
      expect(mine).to.have.length(1);
      expect(mine[0]).to.deep.include({ method: 'GET', status: 200 });
    });

    it('when a request is logged, then the path is the full request path without its query string', () => {
      const [mine] = parsedLogs(running()).filter((l) => l.requestId === requestId);
      expect(mine.path).to.equal('/fhir/Patient');
    });

    it('when the client sends an X-Request-Id that is not sane, then the server uses its own id', () => {
      expect(running().stdout.some((l) => l.includes('not a sane id!'))).to.equal(false);
    });

    it('when requests carried a bearer token, then no log line contains it', () => {
      const all = [...running().stdout, ...running().stderr].join('\n');
      expect(bearerToken).to.have.length.greaterThan(20);
      expect(all).to.not.contain(bearerToken);
    });

    it('when requests carried demo family names, then no log line contains them', () => {
      const all = [...running().stdout, ...running().stderr].join('\n');
      for (const family of demoFamilies) {
        expect(all, family).to.not.contain(family);
      }
    });

    it('when requests carried demo INS values, then no log line contains them', () => {
      const all = [...running().stdout, ...running().stderr].join('\n');
      for (const ins of demoIns) {
        expect(all, ins).to.not.contain(ins);
      }
    });
  });

  describe('graceful shutdown on SIGTERM', () => {
    const marker = unique('shutdown');
    const size = 60;
    let inFlight: Answer;
    let refusedWith: string | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null };

    before(async () => {
      const child = running();
      const request = startInFlightPost(child, '/fhir', JSON.stringify(organizationsTransaction(marker, size)), await tokenFor(child));
      await withTimeout('the server to accept the request', request.accepted);
      const logged = child.stdout.length;
      child.process.kill('SIGTERM');
      await waitFor('the shutdown log line', WAIT_TIMEOUT_MS, () => child.stdout.slice(logged).some((l) => l.includes('shutting down')));
      refusedWith = await tryConnect(child.port);
      request.sendBody();
      inFlight = await withTimeout('the in-flight response', request.response);
      exit = await waitForExit(child, WAIT_TIMEOUT_MS);
    });

    it('when SIGTERM arrives during a request, then that request still completes with 200 and its full answer', () => {
      expect(inFlight.status, inFlight.body.slice(0, 500)).to.equal(200);
      const bundle = JSON.parse(inFlight.body) as Bundle;
      expect(bundle.type).to.equal('transaction-response');
      expect(bundle.entry?.map((e) => e.response?.status.slice(0, 3))).to.deep.equal(Array(size).fill('201'));
    });

    it('when a request completes during the shutdown, then its answer says Connection: close (no keep-alive reuse)', () => {
      expect(inFlight.headers?.connection).to.equal('close');
    });

    it('when the server is shutting down, then new connections are refused', () => {
      expect(refusedWith).to.equal('ECONNREFUSED');
    });

    it('when the in-flight request is done, then the process exits with code 0', () => {
      expect(exit).to.deep.equal({ code: 0, signal: null });
    });

    it('when the process stops, then it logs the signal and that it stopped, and nothing failed', () => {
      const logs = parsedLogs(first as ChildServer);
      expect(logs.some((l) => l.msg === 'signal received' && l.signal === 'SIGTERM')).to.equal(true);
      expect(logs.some((l) => l.msg === 'stopped')).to.equal(true);
      expect(logs.filter((l) => (l.level as number) >= 50)).to.deep.equal([]);
    });

    describe('restart on the same DATA_DIR', () => {
      before(async () => {
        second = await spawnServer({ DATA_DIR: dataDir, SEED_DEMO_DATA: 'true' });
        await waitUntilReady(second, STARTUP_TIMEOUT_MS);
      });

      it('when the server restarts on the same data, then the demo data is not loaded twice', async () => {
        expect(await demoCounts(second as ChildServer)).to.deep.equal(expectedDemoCounts());
        await waitFor('the listening log line', WAIT_TIMEOUT_MS, () => second?.stdout.some((l) => l.includes('"msg":"listening"')));
        expect(parsedLogs(second as ChildServer).some((l) => l.msg === 'demo data loaded')).to.equal(false);
      });

      it('when the server restarts, then the transaction finished during the shutdown is stored', async () => {
        expect(await total(second as ChildServer, `Organization?identifier=${encodeURIComponent(`${TEST_ID_SYSTEM}|${marker}`)}`)).to.equal(size);
      });

      it('when the restarted server gets SIGINT, then it exits with code 0', async () => {
        const child = second as ChildServer;
        child.process.kill('SIGINT');
        expect(await waitForExit(child, WAIT_TIMEOUT_MS)).to.deep.equal({ code: 0, signal: null });
      });
    });
  });
});
