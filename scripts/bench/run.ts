/**
 * `npm run bench`: the real FHIR app against a bare Express baseline, in one process, one scenario
 * at a time. Prints requests/s and latencies with their ratio to the baseline; never asserts a time.
 * See README.md beside this file for the knobs.
 */
import fs from 'node:fs';
import { FHIR_JSON } from '../../src/http/negotiation.js';
import { documentCreateBody } from './fixtures.js';
import { assertMostlySucceeded, measure, preflight, type LoadOptions, type Measurement, type Scenario } from './load.js';
import { compareToBaseline, formatFacts, formatTable, machineFacts, type BenchReport } from './report.js';
import { seed, type SeedResult } from './seed.js';
import { BASELINE_PATH, startApp, startBaseline, type AppUnderTest } from './servers.js';
import { readSettings, type BenchSettings } from './settings.js';

const FHIR_HEADERS = { accept: FHIR_JSON };

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function baselineScenario(baseUrl: string): Scenario {
  return { name: 'baseline: bare Express GET', method: 'GET', url: `${baseUrl}${BASELINE_PATH}`, expectedStatus: 200 };
}

/** The FHIR scenarios, in the order they run. */
function fhirScenarios(fhirBase: string, focusPatientId: string, focusPatientDocs: number, token: string): Scenario[] {
  // Every FHIR request carries a real access token: its verification is part of what is measured.
  const headers = { ...FHIR_HEADERS, authorization: `Bearer ${token}` };
  return [
    {
      name: 'GET /fhir/Patient/{id}',
      method: 'GET',
      url: `${fhirBase}/Patient/${focusPatientId}`,
      headers,
      expectedStatus: 200,
      checkBody: (body) => expectField(body, 'id', focusPatientId),
    },
    {
      name: `GET /fhir/DocumentReference?patient= (${focusPatientDocs} docs)`,
      method: 'GET',
      url: `${fhirBase}/DocumentReference?patient=${focusPatientId}`,
      headers,
      expectedStatus: 200,
      checkBody: (body) => expectField(body, 'total', focusPatientDocs),
    },
    {
      name: 'POST /fhir/DocumentReference',
      method: 'POST',
      url: `${fhirBase}/DocumentReference`,
      headers: { ...headers, 'content-type': FHIR_JSON },
      body: documentCreateBody(focusPatientId),
      expectedStatus: 201,
      checkBody: (body) => expectField(body, 'resourceType', 'DocumentReference'),
    },
  ];
}

function expectField(body: unknown, field: string, expected: unknown): void {
  const actual = (body as Record<string, unknown>)[field];
  if (actual !== expected) {
    throw new Error(`preflight: expected ${field} ${JSON.stringify(expected)} in the response, got ${JSON.stringify(actual)}`);
  }
}

async function runScenario(scenario: Scenario, options: LoadOptions): Promise<Measurement> {
  await preflight(scenario);
  log(`measuring ${scenario.name} for ${options.durationSeconds} s ...`);
  const m = await measure(scenario, options);
  assertMostlySucceeded(m);
  return m;
}

/** Seeds, then runs ANALYZE when asked (by default on PostgreSQL only); returns whether it ran. */
async function prepareData(app: AppUnderTest, settings: BenchSettings): Promise<{ seeded: SeedResult; analyzed: boolean }> {
  log(`database: ${app.databaseLabel}`);
  log('seeding ...');
  const seeded = await seed(app.repo, settings, log);
  const analyzed = settings.analyze ?? app.db.kind === 'postgres';
  if (analyzed) {
    await app.db.query('ANALYZE');
  }
  return { seeded, analyzed };
}

/** Runs the scenarios strictly one after the other (never two loads at once). */
async function measureAll(scenarios: readonly Scenario[], options: LoadOptions): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const scenario of scenarios) {
    measurements.push(await runScenario(scenario, options));
  }
  return measurements;
}

function printReport(report: BenchReport, jsonPath: string | undefined): void {
  log('');
  log(formatFacts(report.facts));
  log('');
  log(formatTable(report.scenarios));
  if (jsonPath) {
    fs.writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    log(`\nresults written to ${jsonPath}`);
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const options: LoadOptions = { durationSeconds: settings.durationSeconds, connections: settings.connections, workers: settings.workers };
  const baselineServer = await startBaseline();
  const app = await startApp(settings.databaseUrl);
  try {
    const { seeded, analyzed } = await prepareData(app, settings);
    const measurements = await measureAll(
      [baselineScenario(baselineServer.url), ...fhirScenarios(`${app.url}/fhir`, seeded.focusPatientId, settings.focusPatientDocs, await app.accessToken())],
      options
    );
    printReport(
      {
        facts: { ...machineFacts(), database: app.databaseLabel, analyzed, ...options, seed: seeded },
        scenarios: compareToBaseline(measurements[0], measurements),
      },
      settings.jsonPath
    );
  } finally {
    await app.close();
    await baselineServer.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
