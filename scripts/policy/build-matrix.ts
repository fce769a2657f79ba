/**
 * Builds `profiles/habilitation-matrix.json` (FHIR R4 ConceptMap, document type → TRE_G15 profession)
 * from the readable table in `matrix-source.ts`.
 *
 *   npx tsx scripts/policy/build-matrix.ts            writes profiles/habilitation-matrix.json
 *   npx tsx scripts/policy/build-matrix.ts --out F    writes F instead
 *
 * The output is deterministic (no dates), so a unit test compares the committed file with a fresh build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ConceptMap, ConceptMapGroup, ConceptMapGroupElement, ConceptMapGroupElementTarget } from '@medplum/fhirtypes';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../../src/dmp/identifiers.js';
import { DEFAULT_MATRIX_FILE, HABILITATION_MATRIX_URL, HEALTH_PROFESSIONS, SPECIALITY_PROPERTY } from '../../src/policy/habilitation-matrix.js';
import { allProfessionRows, DOCUMENT_TYPES, SAFE, type ProfessionRow, type TypeSystem } from './matrix-source.js';

export const PROVENANCE_EXTENSION_URL = 'https://dmp-fhir-server.org/fhir/StructureDefinition/habilitation-matrix-provenance';

const SYSTEM_URL: Readonly<Record<TypeSystem, string>> = { loinc: LOINC_SYSTEM, 'tre-a05': DOC_TYPE_COMPLEMENTARY_SYSTEM };

const PROVENANCE =
  'NOT the official matrix. Built from the facts in dmp-domain.md §3.2 (secondary sources: professional press and ' +
  "professional orders' newsletters summarising the annex of the arrêté du 26 octobre 2023, JORF n°0252 of 29 October 2023), " +
  'completed by the choices listed below. A deployment loads the official annex, transcribed as a ConceptMap of the same ' +
  'shape, with the setting HABILITATION_MATRIX_FILE.';

/** The ConceptMap built from matrix-source.ts; throws when the source names a type it does not list. */
export function buildHabilitationMatrix(): ConceptMap {
  const rows = allProfessionRows();
  const known = new Set(DOCUMENT_TYPES.map((t) => t.code));
  const readers = new Map<string, ConceptMapGroupElementTarget[]>(DOCUMENT_TYPES.map((t) => [t.code, []]));
  for (const row of rows) {
    for (const code of codesOf(row.rule)) {
      if (!known.has(code)) throw new Error(`matrix-source: profession ${row.profession} names unknown type ${code}`);
    }
    for (const code of readableBy(row)) {
      readers.get(code)?.push(target(row.profession));
    }
    for (const { speciality, alsoReads } of row.specialities ?? []) {
      for (const code of alsoReads) {
        if (!known.has(code)) throw new Error(`matrix-source: speciality ${speciality} names unknown type ${code}`);
        readers.get(code)?.push({ ...target(row.profession), dependsOn: [{ property: SPECIALITY_PROPERTY, system: SPECIALITY_SYSTEM, value: speciality }] });
      }
    }
  }
  const group = (system: TypeSystem): ConceptMapGroup => ({
    source: SYSTEM_URL[system],
    target: PROFESSION_SYSTEM,
    element: DOCUMENT_TYPES.filter((t) => t.system === system).map((t): ConceptMapGroupElement => ({
      code: t.code,
      display: t.display,
      target: readers.get(t.code)?.length
        ? readers.get(t.code)
        : [{ equivalence: 'unmatched', comment: 'No profession may read this document type.' }],
    })),
  });
  return {
    resourceType: 'ConceptMap',
    id: 'dmp-habilitation-matrix',
    extension: [{ url: PROVENANCE_EXTENSION_URL, valueString: PROVENANCE }],
    url: HABILITATION_MATRIX_URL,
    version: '0.1.0',
    name: 'DmpHabilitationMatrix',
    title: "Matrice d'habilitations DMP (reconstruction provisoire, non officielle)",
    status: 'draft',
    experimental: true,
    publisher: 'dmp-fhir-server',
    description: description(rows),
    purpose:
      'Which DMP document types (typeCode) each health profession (TRE_G15), and optionally speciality (TRE_R38), may read ' +
      '(Code de la santé publique R.1111-46). A target with equivalence `equivalent` allows; anything absent is denied.',
    group: [group('loinc'), group('tre-a05')],
  };
}

/** The file content: 2-space JSON and a final newline. */
export function renderHabilitationMatrix(): string {
  return `${JSON.stringify(buildHabilitationMatrix(), null, 2)}\n`;
}

function target(profession: string): ConceptMapGroupElementTarget {
  return { code: profession, display: HEALTH_PROFESSIONS[profession], equivalence: 'equivalent' };
}

function codesOf(rule: ProfessionRow['rule']): readonly string[] {
  return 'allBut' in rule ? rule.allBut : rule.only;
}

function readableBy(row: ProfessionRow): string[] {
  const listed = new Set(codesOf(row.rule));
  return DOCUMENT_TYPES.map((t) => t.code).filter((code) => ('allBut' in row.rule ? !listed.has(code) : listed.has(code)));
}

function description(rows: readonly ProfessionRow[]): string {
  const safeOnly = rows.filter((r) => r.basis === 'safe').map((r) => `${r.profession} ${HEALTH_PROFESSIONS[r.profession]}`);
  return [
    `**Provenance.** ${PROVENANCE}`,
    '',
    '**Model.** One group per document type system (LOINC, TRE_A05) to TRE_G15. Each element is a typeCode; each target with ' +
      'equivalence `equivalent` is a profession allowed to read it (a `dependsOn` on PractitionerRole.specialty, system TRE_R38, ' +
      'restricts it to one speciality). A type no one may read has one `unmatched` target. A profession or type the map does not name is denied.',
    '',
    '**Rows and choices.**',
    ...rows.filter((r) => r.basis !== 'safe').map((r) => `- ${r.profession} (${r.basis}): ${r.why}`),
    `- SAFE, for every health profession with no published row (${safeOnly.join(', ')}): ${SAFE.join(', ')} ` +
      '(vaccination history, vaccination note, COVID-19 vaccination attestation, implant card): low sensitivity and useful to ' +
      'whoever treats the patient. Profession-specific additions (obstetric syntheses for midwives, PRESC-KINE for ' +
      'physiotherapists...) wait for the official annex.',
    '- REMB (reimbursement history) is readable only by professions that may read psychiatric syntheses (here: médecins), ' +
      'since it names psychiatric and psychological care. DOCPAT types (documents the patient deposited) follow each row like ' +
      'the matching care documents; DOCPAT07 (certificate) goes with certificates, DOCPAT09 (administrative) with the private ' +
      'administrative papers.',
    '- Authors always read their own documents, and the patient reads every type: these are rules of the policy, not of this map.',
  ].join('\n');
}

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = path.resolve(values.out ?? DEFAULT_MATRIX_FILE);
  fs.writeFileSync(out, renderHabilitationMatrix());
  console.log(`Wrote the habilitation matrix to ${out}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
