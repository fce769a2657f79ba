/**
 * `npm run feed:remb -- <file.csv> [options]`: imports the insurer's reimbursement history (one
 * REMB document per patient) into the running server, as the insurer's SMART Backend Services client.
 * Idempotent: running it again on the same file (same day) adds nothing. See USAGE.
 *
 * Exit codes: 0 done (bad lines and patients without a DMP are reported, not fatal), 1 the server
 * cannot be reached or refuses the client, 2 usage error or unusable file (nothing sent).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClientAdminError, keyFileFor, readPrivateJwk } from '../src/auth/client-admin.js';
import { DEMO_INSURER_ID, DEMO_INSURER_SCOPE, demoInsurerKeyFile } from '../src/auth/demo-clients.js';
import { BackendSession, FeedFatalError } from '../src/remb/backend-session.js';
import { isCalendarDate, REMB_COLUMNS, REMB_DELIMITER } from '../src/remb/csv-format.js';
import { DEFAULT_REMB_DEPTH_MONTHS, localToday } from '../src/remb/depth.js';
import { DEFAULT_REMB_AUTHOR } from '../src/remb/document.js';
import { FEED_SCOPES, feedHistories, type FeedResult } from '../src/remb/feed.js';
import { groupByPatient } from '../src/remb/history.js';
import { progressOn } from '../src/remb/progress.js';
import { readReimbursementCsv, RembFileError, type ReadResult } from '../src/remb/read-csv.js';

const DEFAULT_BATCH_SIZE = 50;
/** Well under the server's default MAX_BODY_BYTES (10 MB). */
const MAX_BUNDLE_BYTES = 1_500_000;
/** Bad lines and patient problems printed one by one; the rest are only counted. */
const MAX_PRINTED = 200;

const USAGE = `Usage: npm run feed:remb -- <file.csv> [options]

Imports the insurer's reimbursement history: one REMB document (class 60, format
urn:asip:ci-sis:hr:2019) per patient, holding that patient's lines as CSV, written to the running
server as the insurer's SMART Backend Services client. Running it twice adds nothing.

The file: UTF-8 (BOM or not), "${REMB_DELIMITER}"-separated, one record per line, fields may be quoted ("),
a header line naming these columns (any order):
  ${REMB_COLUMNS.join(REMB_DELIMITER)}
  ins_kind           INS-NIR, INS-NIA, INS-NIR-TEST, INS-NIR-DEMO (or the INS OID)
  ins                15-character INS matricule (check key verified)
  care_date          date of care, YYYY-MM-DD
  act_code           act code (CCAM, NGAP...); act_label: its label
  amount_paid        amount paid, euros (12.50 or 12,50); amount_reimbursed: amount reimbursed
  performer          the professional or structure
Bad lines are reported with their line number and skipped; lines older than the history depth are
counted and skipped.

Options:
  --base-url <url>     the server (default $BASE_URL, else http://localhost:8080)
  --client-id <id>     the insurer's client (default ${DEMO_INSURER_ID}); it needs the DMP role
                       "insurer" and the scopes ${FEED_SCOPES}
  --key <file>         its private JWK (default $DATA_DIR/demo-insurer-key.json for demo-insurer,
                       else <folder of $SMART_CLIENTS_FILE>/<client-id>-key.json; DATA_DIR default ./data)
  --months <n>         history depth in months before the import date (default $REMB_HISTORY_MONTHS,
                       else ${DEFAULT_REMB_DEPTH_MONTHS})
  --as-of <date>       the import date, YYYY-MM-DD (default today)
  --batch-size <n>     patients per transaction Bundle (default ${DEFAULT_BATCH_SIZE})
  --author <name>      the insurer's name on the documents (default "${DEFAULT_REMB_AUTHOR}")
  --dry-run            read, look patients up and count, write nothing
  --json               print the summary as JSON on stdout
  -h, --help           this help

Progress and problems go to stderr, the summary to stdout.
Exit codes: 0 done, 1 server unreachable or client refused, 2 usage error or unusable file.
`;

class UsageError extends Error {}

interface Options {
  readonly file: string;
  readonly baseUrl: string;
  readonly clientId: string;
  readonly keyFile: string;
  readonly months: number;
  readonly asOf: string;
  readonly batchSize: number;
  readonly author: string;
  readonly dryRun: boolean;
  readonly json: boolean;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'base-url': { type: 'string' },
      'client-id': { type: 'string' },
      key: { type: 'string' },
      months: { type: 'string' },
      'as-of': { type: 'string' },
      'batch-size': { type: 'string' },
      author: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    return 'help';
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'name the CSV file to import' : `one file at a time (got ${positionals.length})`);
  }
  const clientId = values['client-id'] ?? DEMO_INSURER_ID;
  const asOf = values['as-of'] ?? localToday();
  if (!isCalendarDate(asOf)) {
    throw new UsageError(`--as-of must be a date written YYYY-MM-DD, not ${JSON.stringify(asOf)}`);
  }
  const baseUrl = values['base-url'] ?? env.BASE_URL ?? 'http://localhost:8080';
  if (!/^https?:\/\/[^/]+/.test(baseUrl)) {
    throw new UsageError(`--base-url must be an http(s) URL, not ${JSON.stringify(baseUrl)}`);
  }
  return {
    file: positionals[0],
    baseUrl: baseUrl.replace(/\/+$/, ''),
    clientId,
    keyFile: values.key ?? defaultKeyFile(clientId, env),
    months: wholeNumber('--months', values.months ?? env.REMB_HISTORY_MONTHS ?? String(DEFAULT_REMB_DEPTH_MONTHS), 1, 1200),
    asOf,
    batchSize: wholeNumber('--batch-size', values['batch-size'] ?? String(DEFAULT_BATCH_SIZE), 1, 500),
    author: values.author ?? DEFAULT_REMB_AUTHOR,
    dryRun: values['dry-run'] ?? false,
    json: values.json ?? false,
  };
}

/**
 * Where the key is when `--key` is not given: the demo insurer's in DATA_DIR (the demo data writes
 * it there), any other next to the clients file (where `npm run client -- add` writes it).
 */
function defaultKeyFile(clientId: string, env: NodeJS.ProcessEnv): string {
  const dataDir = env.DATA_DIR ?? './data';
  return clientId === DEMO_INSURER_ID ? demoInsurerKeyFile(dataDir) : keyFileFor(env.SMART_CLIENTS_FILE ?? path.join(dataDir, 'smart-clients.json'), clientId);
}

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

function readKey(opts: Options): ReturnType<typeof readPrivateJwk> {
  try {
    return readPrivateJwk(opts.keyFile);
  } catch (err) {
    const hint =
      opts.clientId === DEMO_INSURER_ID
        ? `\nThe demo insurer and its key are registered when the demo clients file is first written (npm start on a new DATA_DIR). ` +
          `With an older data folder, register it: npm run client -- add --id ${DEMO_INSURER_ID} --role insurer --scope "${DEMO_INSURER_SCOPE}"`
        : '';
    throw new UsageError(`${(err as ClientAdminError).message}${hint}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv, process.env);
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!fs.statSync(opts.file, { throwIfNoEntry: false })?.isFile()) {
    throw new UsageError(`no such file: ${opts.file}`);
  }
  const privateJwk = readKey(opts);
  const read = await readReimbursementCsv(fs.createReadStream(opts.file), { asOf: opts.asOf, months: opts.months });
  printProblems(read.problems.map((p) => `line ${p.lineNo}: ${p.message}`), 'bad line(s)');
  const histories = groupByPatient(read.lines);

  const session = new BackendSession({ baseUrl: opts.baseUrl, clientId: opts.clientId, privateJwk, scope: FEED_SCOPES });
  await session.connect();
  const progress = progressOn(process.stderr, histories.length);
  let fed: FeedResult;
  try {
    fed = await feedHistories(session, histories, { batchSize: opts.batchSize, maxBundleBytes: MAX_BUNDLE_BYTES, dryRun: opts.dryRun, now: new Date(), author: opts.author }, (done) => progress.update(done));
  } finally {
    progress.stop();
  }
  printProblems(fed.issues.map((i) => `line ${i.firstLineNo} (first of ${i.lines} line(s) of this patient): ${i.message}`), 'patient(s) not written');
  const summary = summaryOf(opts, read, histories.length, fed);
  process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : summaryText(summary));
  return 0;
}

function printProblems(lines: readonly string[], what: string): void {
  for (const line of lines.slice(0, MAX_PRINTED)) {
    process.stderr.write(`${line}\n`);
  }
  if (lines.length > MAX_PRINTED) {
    process.stderr.write(`... and ${lines.length - MAX_PRINTED} more ${what} not shown\n`);
  }
}

type Summary = ReturnType<typeof summaryOf>;

function summaryOf(opts: Options, read: ReadResult, patients: number, fed: FeedResult) {
  return {
    file: opts.file,
    dryRun: opts.dryRun,
    asOf: opts.asOf,
    months: opts.months,
    keptFrom: read.cutoff,
    linesRead: read.linesRead,
    badLines: read.problems.length,
    linesTooOld: read.linesTooOld,
    patients,
    documentsCreated: fed.documentsCreated,
    documentsReplaced: fed.documentsReplaced,
    documentsAlreadyPresent: fed.documentsAlreadyPresent,
    ...(opts.dryRun ? { documentsToCreate: fed.documentsToCreate } : {}),
    patientsWithoutDmp: fed.patientsWithoutDmp,
    linesWithoutDmp: fed.linesWithoutDmp,
    patientsClosedDmp: fed.patientsClosedDmp,
    patientsFailed: fed.patientsFailed,
  };
}

function summaryText(s: Summary): string {
  const rows: [string, string | number][] = [
    ['lines read', s.linesRead],
    ['bad lines (skipped)', s.badLines],
    [`lines older than ${s.months} months (before ${s.keptFrom}, skipped)`, s.linesTooOld],
    ['patients', s.patients],
    ['documents created', s.documentsCreated],
    ['earlier documents replaced (superseded)', s.documentsReplaced],
    ['documents already present', s.documentsAlreadyPresent],
    ...(s.dryRun ? ([['documents a real run would create', s.documentsToCreate ?? 0]] as [string, number][]) : []),
    ['patients without DMP (lines skipped)', `${s.patientsWithoutDmp} (${s.linesWithoutDmp} lines)`],
    ['patients whose DMP is closed', s.patientsClosedDmp],
    ['patients refused or ambiguous', s.patientsFailed],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const title = `Reimbursement feed of ${s.file} as of ${s.asOf}${s.dryRun ? ' (dry run: nothing written)' : ''}`;
  return [title, ...rows.map(([label, value]) => `  ${`${label}:`.padEnd(width + 1)} ${value}`)].join('\n') + '\n';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportFailure(err);
  }
);

/** Prints why the command stops and gives its exit code. */
function reportFailure(err: unknown): number {
  const message = (err as Error).message;
  if (err instanceof UsageError || isParseArgsError(err)) {
    process.stderr.write(`feed-remb: ${message}\nRun with --help for the usage.\n`);
    return 2;
  }
  if (err instanceof RembFileError) {
    process.stderr.write(`feed-remb: ${message}\n`);
    return 2;
  }
  if (err instanceof FeedFatalError) {
    process.stderr.write(`feed-remb: ${message}\n`);
    return 1;
  }
  process.stderr.write(`feed-remb: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
  return 1;
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
