import type { CodeableConcept, MeasureReport, MeasureReportGroup, MeasureReportGroupStratifier, MeasureReportGroupStratifierStratum, Period } from '@medplum/fhirtypes';
import { IDNPS_SYSTEM } from '../dmp/identifiers.js';
import type { AccessCounts, ActorCount, TypeCount } from '../repo/pilotage-queries.js';

/** Codes of the indicators, their strata and populations. */
export const PILOTAGE_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-pilotage';
/** The Measure the report answers (a canonical name; the indicators of the DMP seed brochure). */
export const PILOTAGE_MEASURE = 'https://dmp-fhir-server.org/fhir/Measure/dmp-pilotage';
const MEASURE_POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';

/** Everything the report says, as counted (pilotage-queries.ts). */
export interface PilotageFigures {
  readonly created: number;
  readonly fed: number;
  readonly documentsByType: readonly TypeCount[];
  readonly feeds: AccessCounts;
  readonly consultations: AccessCounts;
}

/**
 * The DMP usage indicators as a summary MeasureReport: one group per indicator (its count as
 * `population` and `measureScore`), stratified by document type, professional and structure. No
 * patient is named. Strata counting fewer than `minCellCount` (events or records) are withheld and
 * pooled into one "other" stratum, itself shown only when it reaches the threshold; group totals stay.
 */
export function pilotageReport(figures: PilotageFigures, period: Period, minCellCount: number, now = new Date()): MeasureReport {
  const consulted = figures.consultations.records;
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: PILOTAGE_MEASURE,
    date: now.toISOString(),
    period,
    group: [
      countGroup('dmp-created', 'DMP créés', 'DMP ouverts dans la période (première version du Patient)', figures.created),
      countGroup('dmp-fed', 'DMP alimentés', 'DMP distincts ayant reçu au moins un document dans la période', figures.fed),
      countGroup('dmp-consulted', 'DMP consultés', 'DMP distincts consultés avec succès par un professionnel dans la période', consulted),
      {
        ...countGroup('documents', 'Documents déposés', 'Documents déposés dans la période, par type', sum(figures.documentsByType.map((t) => t.count))),
        stratifier: [stratifier('document-type', 'Par type de document', withheld(figures.documentsByType.map(typeStratum), minCellCount))],
      },
      accessGroup('feeds', 'Alimentations par des professionnels', 'Documents déposés par des professionnels dans la période', figures.feeds, minCellCount),
      accessGroup('consultations', 'Consultations par des professionnels', 'Consultations réussies de DMP par des professionnels (lectures, recherches, historiques, $everything) dans la période', figures.consultations, minCellCount),
    ],
  };
}

function concept(code: string, display: string, text = display): CodeableConcept {
  return { coding: [{ system: PILOTAGE_SYSTEM, code, display }], text };
}

function countGroup(code: string, display: string, text: string, count: number): MeasureReportGroup {
  return {
    code: concept(code, display, text),
    population: [{ code: { coding: [{ system: MEASURE_POPULATION, code: 'initial-population' }] }, count }],
    measureScore: { value: count },
  };
}

/** A group of professionals' accesses: events in total, the distinct records as a second population, per professional and per structure. */
function accessGroup(code: string, display: string, text: string, counts: AccessCounts, minCellCount: number): MeasureReportGroup {
  const group = countGroup(code, display, text, counts.events);
  return {
    ...group,
    population: [...(group.population ?? []), { code: concept('records', 'DMP distincts'), count: counts.records }],
    stratifier: [
      stratifier('professional', 'Par professionnel (Practitioner, IdNat_PS)', withheld(counts.byProfessional.map(professionalStratum), minCellCount)),
      stratifier('structure', 'Par structure (identifiant de la structure d’exercice)', withheld(counts.byStructure.map(structureStratum), minCellCount)),
    ],
  };
}

function stratifier(code: string, display: string, stratum: MeasureReportGroupStratifierStratum[]): MeasureReportGroupStratifier {
  return { code: [concept(code, display)], ...(stratum.length > 0 ? { stratum } : {}) };
}

function typeStratum(t: TypeCount): MeasureReportGroupStratifierStratum {
  const value: CodeableConcept = t.code ? { coding: [{ ...(t.system ? { system: t.system } : {}), code: t.code }], text: t.code } : { text: 'sans type' };
  return { value, measureScore: { value: t.count } };
}

function actorStratum(value: CodeableConcept, a: ActorCount): MeasureReportGroupStratifierStratum {
  return { value, population: [{ code: concept('records', 'DMP distincts'), count: a.records }], measureScore: { value: a.events } };
}

function professionalStratum(a: ActorCount): MeasureReportGroupStratifierStratum {
  const coding = a.nationalId ? { coding: [{ system: IDNPS_SYSTEM, code: a.nationalId }] } : {};
  return actorStratum({ ...coding, text: `Practitioner/${a.id}` }, a);
}

function structureStratum(a: ActorCount): MeasureReportGroupStratifierStratum {
  return actorStratum({ text: a.id }, a);
}

/** The smallest count a stratum shows (its score and its populations). */
function smallest(s: MeasureReportGroupStratifierStratum): number {
  return Math.min(s.measureScore?.value ?? 0, ...(s.population ?? []).map((p) => p.count ?? 0));
}

/** Small cells withheld: strata below the threshold pooled into one "other" stratum, shown only when it reaches it. */
export function withheld(strata: MeasureReportGroupStratifierStratum[], minCellCount: number): MeasureReportGroupStratifierStratum[] {
  if (minCellCount <= 1) {
    return strata;
  }
  const kept = strata.filter((s) => smallest(s) >= minCellCount);
  const small = strata.filter((s) => smallest(s) < minCellCount);
  const pooled: MeasureReportGroupStratifierStratum = {
    value: concept('other', `Autres (effectifs inférieurs à ${minCellCount})`),
    measureScore: { value: sum(small.map((s) => s.measureScore?.value ?? 0)) },
  };
  return small.length > 0 && (pooled.measureScore?.value ?? 0) >= minCellCount ? [...kept, pooled] : kept;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
