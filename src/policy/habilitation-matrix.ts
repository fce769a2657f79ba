/**
 * The habilitation matrix (arrêté du 26 octobre 2023, annex; dmp-domain.md §3): which document types
 * (LOINC / TRE_A05 typeCode) each profession (TRE_G15), and optionally speciality (TRE_R38), may read.
 * Loaded from a FHIR R4 ConceptMap: `profiles/habilitation-matrix.json` by default (built by
 * `scripts/policy/build-matrix.ts`), or the official annex a deployment points HABILITATION_MATRIX_FILE at.
 * Anything the file does not say is denied.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConceptMap } from '@medplum/fhirtypes';
import { DOC_TYPE_COMPLEMENTARY_SYSTEM, LOINC_SYSTEM, PROFESSION_SYSTEM, SPECIALITY_SYSTEM } from '../dmp/identifiers.js';

export const HABILITATION_MATRIX_URL = 'https://dmp-fhir-server.org/fhir/ConceptMap/dmp-habilitation-matrix';
export const DEFAULT_MATRIX_FILE = fileURLToPath(new URL('../../profiles/habilitation-matrix.json', import.meta.url));

/** Document type systems a matrix group may map from. */
export const MATRIX_SOURCE_SYSTEMS: readonly string[] = [LOINC_SYSTEM, DOC_TYPE_COMPLEMENTARY_SYSTEM];
/** `dependsOn.property` of a speciality condition: the element holding the professional's speciality. */
export const SPECIALITY_PROPERTY = 'http://hl7.org/fhir/StructureDefinition/PractitionerRole#PractitionerRole.specialty';
/** Target equivalences that grant reading; every other one (disjoint, unmatched...) grants nothing. */
const GRANTING_EQUIVALENCES: ReadonlySet<string> = new Set(['equivalent', 'equal']);

/** The health professions of TRE_G15 (dmp-domain.md §3.3; deprecated codes excluded). */
export const HEALTH_PROFESSIONS: Readonly<Record<string, string>> = {
  '10': 'Médecin',
  '21': 'Pharmacien',
  '26': 'Audioprothésiste',
  '28': 'Opticien-Lunetier',
  '31': 'Assistant dentaire',
  '32': 'Physicien médical',
  '40': 'Chirurgien-Dentiste',
  '50': 'Sage-Femme',
  '60': 'Infirmier',
  '69': 'Infirmier psychiatrique',
  '70': 'Masseur-Kinésithérapeute',
  '80': 'Pédicure-Podologue',
  '81': 'Orthoprothésiste',
  '82': 'Podo-Orthésiste',
  '83': 'Orthopédiste-Orthésiste',
  '84': 'Oculariste',
  '85': 'Epithésiste',
  '86': 'Technicien de laboratoire médical',
  '91': 'Orthophoniste',
  '92': 'Orthoptiste',
  '94': 'Ergothérapeute',
  '95': 'Diététicien',
  '96': 'Psychomotricien',
  '98': 'Manipulateur ERM',
};

/** Whether a TRE_G15 code names a health professional (bris de glace is open to them only). */
export function isHealthProfession(profession: string | undefined): boolean {
  return profession !== undefined && Object.hasOwn(HEALTH_PROFESSIONS, profession);
}

export interface TypeCoding {
  readonly system: string;
  readonly code: string;
}

export type MatrixDecision =
  | { readonly allow: true }
  | { readonly allow: false; readonly reason: 'unknown-profession' | 'unknown-document-type' | 'matrix-forbids' };

/** A matrix file that cannot be used; the message names the file and what is wrong. */
export class HabilitationMatrixError extends Error {
  constructor(source: string, problem: string) {
    super(`Habilitation matrix ${source}: ${problem} (set HABILITATION_MATRIX_FILE to a FHIR R4 ConceptMap from document types to TRE_G15 professions)`);
    this.name = 'HabilitationMatrixError';
  }
}

/** Reads and checks a matrix file (default: the one shipped in profiles/). Throws HabilitationMatrixError. */
export function loadMatrix(file: string = DEFAULT_MATRIX_FILE): HabilitationMatrix {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new HabilitationMatrixError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HabilitationMatrixError(file, `is not JSON (${(err as Error).message})`);
  }
  return new HabilitationMatrix(json, file);
}

/** Profession × (speciality) × document type, as read from the ConceptMap. Immutable once built. */
export class HabilitationMatrix {
  readonly url: string | undefined;
  readonly version: string | undefined;
  /** typeCode → its system, in file order. */
  private readonly types = new Map<string, string>();
  /** profession → codes it reads whatever its speciality. */
  private readonly anySpeciality = new Map<string, Set<string>>();
  /** profession → speciality → codes it reads with that speciality only. */
  private readonly bySpeciality = new Map<string, Map<string, Set<string>>>();
  private readonly knownProfessions = new Set<string>();

  /** Builds from a parsed ConceptMap; throws HabilitationMatrixError when it is not a usable matrix. */
  constructor(conceptMap: unknown, readonly source = 'ConceptMap') {
    const map = conceptMap as ConceptMap;
    if (typeof map !== 'object' || map === null || map.resourceType !== 'ConceptMap') {
      throw new HabilitationMatrixError(source, `is not a FHIR ConceptMap (resourceType ${JSON.stringify((map as { resourceType?: unknown } | null)?.resourceType)})`);
    }
    this.url = map.url;
    this.version = map.version;
    if (!Array.isArray(map.group) || map.group.length === 0) {
      throw new HabilitationMatrixError(source, 'has no group');
    }
    map.group.forEach((group, g) => this.readGroup(group, `group[${g}]`));
    if (this.knownProfessions.size === 0) {
      throw new HabilitationMatrixError(source, 'names no profession');
    }
  }

  /** Whether the profession appears in the matrix (a profession it does not know reads nothing). */
  knowsProfession(profession: string | undefined): boolean {
    return profession !== undefined && this.knownProfessions.has(profession);
  }

  /** Whether the document type appears in the matrix; a given system must be the one the matrix uses. */
  knowsDocumentType(typeCode: string | undefined, typeSystem?: string): boolean {
    if (typeCode === undefined) return false;
    const system = this.types.get(typeCode);
    return system !== undefined && (typeSystem === undefined || typeSystem === system);
  }

  /** May this profession (with this speciality) read this document type? Unknown → denied. */
  mayRead(profession: string | undefined, speciality: string | undefined, typeCode: string | undefined, typeSystem?: string): MatrixDecision {
    if (!this.knowsProfession(profession)) return { allow: false, reason: 'unknown-profession' };
    if (!this.knowsDocumentType(typeCode, typeSystem)) return { allow: false, reason: 'unknown-document-type' };
    return this.readableSet(profession as string, speciality).has(typeCode as string) ? { allow: true } : { allow: false, reason: 'matrix-forbids' };
  }

  /** The typeCodes this profession (with this speciality) may read, in matrix order; [] when unknown. */
  readableTypes(profession: string | undefined, speciality: string | undefined): string[] {
    return this.readableTypeCodings(profession, speciality).map((t) => t.code);
  }

  /** Same as readableTypes, with each code's system (for `system|code` token filters). */
  readableTypeCodings(profession: string | undefined, speciality: string | undefined): TypeCoding[] {
    if (!this.knowsProfession(profession)) return [];
    const readable = this.readableSet(profession as string, speciality);
    return [...this.types].filter(([code]) => readable.has(code)).map(([code, system]) => ({ system, code }));
  }

  /** Every profession the matrix names. */
  professions(): string[] {
    return [...this.knownProfessions];
  }

  /** Every document type the matrix names, in file order. */
  documentTypes(): TypeCoding[] {
    return [...this.types].map(([code, system]) => ({ system, code }));
  }

  private readableSet(profession: string, speciality: string | undefined): Set<string> {
    const codes = new Set(this.anySpeciality.get(profession) ?? []);
    if (speciality !== undefined) {
      for (const code of this.bySpeciality.get(profession)?.get(speciality) ?? []) codes.add(code);
    }
    return codes;
  }

  private readGroup(group: NonNullable<ConceptMap['group']>[number], where: string): void {
    if (!group.source || !MATRIX_SOURCE_SYSTEMS.includes(group.source)) {
      throw new HabilitationMatrixError(this.source, `${where}.source ${JSON.stringify(group.source)} is not a document type system (${MATRIX_SOURCE_SYSTEMS.join(', ')})`);
    }
    if (group.target !== PROFESSION_SYSTEM) {
      throw new HabilitationMatrixError(this.source, `${where}.target ${JSON.stringify(group.target)} is not TRE_G15 (${PROFESSION_SYSTEM})`);
    }
    (group.element ?? []).forEach((element, e) => {
      const at = `${where}.element[${e}]`;
      if (typeof element.code !== 'string' || element.code === '') {
        throw new HabilitationMatrixError(this.source, `${at} has no code`);
      }
      const previous = this.types.get(element.code);
      if (previous !== undefined) {
        throw new HabilitationMatrixError(this.source, `${at}: document type ${element.code} appears twice (${previous}, ${group.source})`);
      }
      this.types.set(element.code, group.source as string);
      (element.target ?? []).forEach((target, t) => this.readTarget(element.code as string, target, `${at}.target[${t}]`));
    });
  }

  private readTarget(typeCode: string, target: NonNullable<NonNullable<NonNullable<ConceptMap['group']>[number]['element']>[number]['target']>[number], at: string): void {
    if (target.code !== undefined) this.knownProfessions.add(target.code);
    if (!GRANTING_EQUIVALENCES.has(target.equivalence ?? '')) return;
    if (typeof target.code !== 'string' || target.code === '') {
      throw new HabilitationMatrixError(this.source, `${at} grants access but names no profession`);
    }
    if (target.product?.length) {
      throw new HabilitationMatrixError(this.source, `${at}: 'product' is not supported`);
    }
    const conditions = target.dependsOn ?? [];
    if (conditions.length === 0) {
      addTo(this.anySpeciality, target.code, typeCode);
      return;
    }
    if (conditions.length > 1) {
      throw new HabilitationMatrixError(this.source, `${at}: only one dependsOn (a speciality) is supported`);
    }
    const [condition] = conditions;
    if (condition.system !== SPECIALITY_SYSTEM || typeof condition.value !== 'string' || condition.value === '') {
      throw new HabilitationMatrixError(this.source, `${at}: dependsOn must name a TRE_R38 speciality (system ${SPECIALITY_SYSTEM})`);
    }
    let specialities = this.bySpeciality.get(target.code);
    if (!specialities) this.bySpeciality.set(target.code, (specialities = new Map()));
    addTo(specialities, condition.value, typeCode);
  }
}

function addTo(index: Map<string, Set<string>>, key: string, code: string): void {
  let codes = index.get(key);
  if (!codes) index.set(key, (codes = new Set()));
  codes.add(code);
}
