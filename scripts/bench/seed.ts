/**
 * Seeds the benchmark data straight through ResourceRepo (no HTTP): one "focus" patient with many
 * documents, and the other documents spread over other patients.
 *
 * Validating every resource like an API write (prepareWrite) would cost about a third of the
 * seeding time, and the builders only vary ids, dates and names: so the first resource of every
 * chunk goes through prepareWrite (base + profile validation, fails loudly), the rest are stored as built.
 */
import type { Resource } from '@medplum/fhirtypes';
import { prepareWrite } from '../../src/fhir/handlers/write-input.js';
import type { SupportedType } from '../../src/fhir/resource-types.js';
import type { ResourceRepo } from '../../src/repo/resource-repo.js';
import { benchDocumentReference, benchPatient } from './fixtures.js';

export interface SeedPlan {
  readonly totalDocs: number;
  readonly focusPatientDocs: number;
  readonly otherPatients: number;
}

export interface SeedResult {
  readonly focusPatientId: string;
  readonly patients: number;
  readonly documents: number;
  readonly seconds: number;
}

const CHUNK_SIZE = 500;
const PROGRESS_EVERY = 2_000;

/** Creates plan.otherPatients + 1 patients, then plan.totalDocs documents, in chunked transactions. */
export async function seed(repo: ResourceRepo, plan: SeedPlan, log: (line: string) => void): Promise<SeedResult> {
  const started = performance.now();
  const patientIds = await createAll(repo, 'Patient', plan.otherPatients + 1, benchPatient);
  const [focusPatientId, ...others] = patientIds;
  log(`  ${patientIds.length} patients in ${elapsed(started)} s`);
  const ownerOf = (n: number): string => (n < plan.focusPatientDocs ? focusPatientId : others[n % others.length]);
  await createAll(repo, 'DocumentReference', plan.totalDocs, (n) => benchDocumentReference(n, ownerOf(n)), (done) =>
    log(`  ${done}/${plan.totalDocs} documents, ${elapsed(started)} s`)
  );
  return { focusPatientId, patients: patientIds.length, documents: plan.totalDocs, seconds: Number(elapsed(started)) };
}

/** Creates count resources built by make(0..count-1), CHUNK_SIZE per transaction; returns their ids in order. */
async function createAll(
  repo: ResourceRepo,
  type: SupportedType,
  count: number,
  make: (n: number) => Resource,
  progress?: (done: number) => void
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += CHUNK_SIZE) {
    const end = Math.min(start + CHUNK_SIZE, count);
    await repo.transaction(async (tx) => {
      for (let n = start; n < end; n++) {
        const resource = n === start ? prepareWrite(type, make(n)) : make(n);
        ids.push((await tx.create(type, resource)).id as string);
      }
    });
    if (progress && (end % PROGRESS_EVERY === 0 || end === count)) {
      progress(end);
    }
  }
  return ids;
}

function elapsed(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}
