import { createHash } from 'node:crypto';
import type { CodeableConcept, HumanName, Identifier, Organization, Patient, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import {
  FINESS_SYSTEM,
  IDNPS_SYSTEM,
  IDNST_SYSTEM,
  INS_KINDS,
  INS_SYSTEMS,
  PROFESSION,
  PROFESSION_SYSTEM,
  SPECIALITY_SYSTEM,
} from '../../dmp/identifiers.js';
import { parseReference } from '../../fhir/references.js';
import type { ResourceRepo } from '../../repo/resource-repo.js';
import { internalSearch } from '../internal-search.js';

/** A person one can log in as at the demo identity provider, with the claims it asserts about them. */
export interface DemoUser {
  /** Stable across restarts (derived from the person's identifier), used by the login form. */
  readonly id: string;
  readonly label: string;
  readonly kind: 'practitioner' | 'patient';
  /** One more line for the login page (profession, structure, birth date); optional. */
  readonly description?: string;
  /** Pro Santé Connect–style claims (professionals) or `ins` claims (patients), `sub` included. */
  readonly claims: Record<string, unknown>;
}

/** At most this many professionals and patients each (the newest), to keep the login page usable. */
export const MAX_DEMO_USERS_PER_KIND = 200;

const PROFESSION_LABELS: Readonly<Record<string, string>> = {
  [PROFESSION.MEDECIN]: 'Médecin',
  [PROFESSION.PHARMACIEN]: 'Pharmacien',
  [PROFESSION.CHIRURGIEN_DENTISTE]: 'Chirurgien-dentiste',
  [PROFESSION.SAGE_FEMME]: 'Sage-femme',
  [PROFESSION.INFIRMIER]: 'Infirmier',
};

interface Exercice {
  codeProfession: string;
  codeSavoirFaire?: string;
  activities: { raisonSocialeSite?: string; identifiantTechniqueDeLaStructure?: string; numeroFinessSite?: string }[];
}

/**
 * The people of the demo identity provider, read from the database: every Practitioner with an
 * IDNPS identifier (Pro Santé Connect claims built from their PractitionerRoles; each médecin also a
 * second time as a SAMU regulator) and every Patient with an INS (an `ins` claim).
 */
export async function loadDemoUsers(repo: ResourceRepo): Promise<DemoUser[]> {
  const [professionals, patients] = await Promise.all([loadProfessionals(repo), loadPatients(repo)]);
  return [...professionals, ...patients];
}

async function loadProfessionals(repo: ResourceRepo): Promise<DemoUser[]> {
  const { matches: practitioners } = await internalSearch<Practitioner>(
    repo,
    'Practitioner',
    { identifier: `${IDNPS_SYSTEM}|`, _sort: '-_lastUpdated' },
    MAX_DEMO_USERS_PER_KIND
  );
  if (practitioners.length === 0) {
    return [];
  }
  const { matches: roles, included } = await internalSearch<PractitionerRole>(
    repo,
    'PractitionerRole',
    { practitioner: practitioners.map((p) => `Practitioner/${p.id}`).join(','), _include: 'PractitionerRole:organization' },
    1000
  );
  const organizations = new Map(
    included.filter((r): r is Organization => r.resourceType === 'Organization').map((o) => [o.id as string, o])
  );
  const users: DemoUser[] = [];
  for (const practitioner of practitioners) {
    const nationalId = practitioner.identifier?.find((i) => i.system === IDNPS_SYSTEM && i.value)?.value;
    if (!nationalId) {
      continue;
    }
    const own = roles.filter((r) => parseReference(r.practitioner?.reference ?? '')?.id === practitioner.id);
    const exercices = own.flatMap((role) => exerciceOf(role, organizations));
    const name = officialName(practitioner.name);
    const given = name?.given?.join(' ');
    const family = name?.family;
    const displayName = [name?.prefix?.join(' '), given, family].filter(Boolean).join(' ') || nationalId;
    const claims: Record<string, unknown> = {
      sub: stableUuid(`${IDNPS_SYSTEM}|${nationalId}`),
      SubjectNameID: nationalId,
      ...(given ? { given_name: given } : {}),
      ...(family ? { family_name: family } : {}),
      preferred_username: nationalId,
      SubjectRefPro: { exercices },
      Acces_Regulation_Medicale: 'FAUX',
    };
    const description = describeExercices(own, organizations);
    const base = `ps-${nationalId}`;
    users.push({ id: base, label: displayName, kind: 'practitioner', description, claims });
    if (exercices.some((e) => e.codeProfession === PROFESSION.MEDECIN)) {
      users.push({
        id: `${base}-samu`,
        label: `${displayName} (régulateur SAMU)`,
        kind: 'practitioner',
        description: description ? `${description} · accès régulation médicale` : 'Accès régulation médicale',
        claims: { ...claims, Acces_Regulation_Medicale: 'VRAI' },
      });
    }
  }
  return users.sort(byLabel);
}

async function loadPatients(repo: ResourceRepo): Promise<DemoUser[]> {
  const { matches } = await internalSearch<Patient>(
    repo,
    'Patient',
    { identifier: INS_SYSTEMS.map((s) => `${s}|`).join(','), _sort: '-_lastUpdated' },
    MAX_DEMO_USERS_PER_KIND
  );
  const users: DemoUser[] = [];
  for (const patient of matches) {
    const ins = preferredIns(patient.identifier);
    if (!ins) {
      continue;
    }
    const name = officialName(patient.name);
    const given = name?.given?.[0];
    const family = name?.family;
    const born = patient.gender === 'female' ? 'née le' : 'né le';
    users.push({
      id: `patient-${ins.system.split('.').pop()}-${ins.value}`,
      label: [given, family].filter(Boolean).join(' ') || ins.value,
      kind: 'patient',
      description: patient.birthDate ? `${born} ${frenchDate(patient.birthDate)}` : undefined,
      claims: {
        sub: stableUuid(`${ins.system}|${ins.value}`),
        ...(given ? { given_name: given } : {}),
        ...(family ? { family_name: family } : {}),
        ins: `${ins.system}|${ins.value}`,
      },
    });
  }
  return users.sort(byLabel);
}

function exerciceOf(role: PractitionerRole, organizations: ReadonlyMap<string, Organization>): Exercice[] {
  const codeProfession = codeIn(role.code, PROFESSION_SYSTEM);
  if (!codeProfession) {
    return [];
  }
  const codeSavoirFaire = codeIn(role.specialty, SPECIALITY_SYSTEM);
  const organization = organizationOf(role, organizations);
  const activities = organization ? [activityOf(organization)] : [];
  return [{ codeProfession, ...(codeSavoirFaire ? { codeSavoirFaire } : {}), activities }];
}

function activityOf(organization: Organization): Exercice['activities'][number] {
  const idOf = (system: string): string | undefined => organization.identifier?.find((i) => i.system === system && i.value)?.value;
  // The structure's national id (IDNST) when it has one, else its FINESS, else any identifier.
  const structureId = idOf(IDNST_SYSTEM) ?? idOf(FINESS_SYSTEM) ?? organization.identifier?.find((i) => i.value)?.value ?? organization.id;
  const finess = idOf(FINESS_SYSTEM);
  return {
    ...(organization.name ? { raisonSocialeSite: organization.name } : {}),
    ...(structureId ? { identifiantTechniqueDeLaStructure: structureId } : {}),
    ...(finess ? { numeroFinessSite: finess } : {}),
  };
}

function organizationOf(role: PractitionerRole, organizations: ReadonlyMap<string, Organization>): Organization | undefined {
  const ref = parseReference(role.organization?.reference ?? '');
  return ref?.type === 'Organization' ? organizations.get(ref.id) : undefined;
}

function describeExercices(roles: readonly PractitionerRole[], organizations: ReadonlyMap<string, Organization>): string | undefined {
  const parts = roles.flatMap((role) => {
    const profession = codingIn(role.code, PROFESSION_SYSTEM);
    if (!profession?.code) {
      return [];
    }
    const speciality = codingIn(role.specialty, SPECIALITY_SYSTEM);
    const organization = organizationOf(role, organizations);
    return [
      [PROFESSION_LABELS[profession.code] ?? profession.display ?? `Profession ${profession.code}`, speciality?.display ?? speciality?.code, organization?.name]
        .filter(Boolean)
        .join(' · '),
    ];
  });
  return parts.length > 0 ? parts.join(' ; ') : undefined;
}

function codingIn(concepts: readonly CodeableConcept[] | undefined, system: string): { code?: string; display?: string } | undefined {
  for (const concept of concepts ?? []) {
    const coding = concept.coding?.find((c) => c.system === system && c.code);
    if (coding) {
      return coding;
    }
  }
  return undefined;
}

function codeIn(concepts: readonly CodeableConcept[] | undefined, system: string): string | undefined {
  return codingIn(concepts, system)?.code;
}

/** The INS a patient logs in with: the first of their INS identifiers in INS_KINDS order (NIR first). */
function preferredIns(identifiers: readonly Identifier[] | undefined): { system: string; value: string } | undefined {
  for (const kind of INS_KINDS) {
    const found = identifiers?.find((i) => i.system === kind.system && i.value);
    if (found?.value) {
      return { system: kind.system, value: found.value };
    }
  }
  return undefined;
}

function officialName(names: readonly HumanName[] | undefined): HumanName | undefined {
  return names?.find((n) => n.use === 'official') ?? names?.[0];
}

function frenchDate(date: string): string {
  const [year, month, day] = date.split('-');
  return day && month ? `${day}/${month}/${year}` : year;
}

/** Family name, then given name, then label (the regulator entry after the plain one), then id. */
function byLabel(a: DemoUser, b: DemoUser): number {
  const keys = (u: DemoUser): string[] => [u.claims.family_name, u.claims.given_name, u.label, u.id].map((v) => (typeof v === 'string' ? v : ''));
  const [ka, kb] = [keys(a), keys(b)];
  for (let i = 0; i < ka.length; i++) {
    const order = ka[i].localeCompare(kb[i], 'fr');
    if (order !== 0) {
      return order;
    }
  }
  return 0;
}

/** A name-based UUID (SHA-256 of the name, version/variant bits set): the same person, the same `sub`. */
export function stableUuid(name: string): string {
  const bytes = createHash('sha256').update(`dmp-fhir-server/demo-idp/${name}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}
