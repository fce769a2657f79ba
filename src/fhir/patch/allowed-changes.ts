import type { CodeableConcept, DocumentReference, Extension, Meta } from '@medplum/fhirtypes';
import { canonicalJson } from '../../audit/audit-writer.js';
import { IS_ARCHIVED_EXTENSION_URL, VISIBILITY, VISIBILITY_SYSTEM } from '../../dmp/identifiers.js';
import { FhirError } from '../outcomes.js';

/** What a metadata patch changed, for the DMP rules (labels are their own action). */
export interface MetadataChanges {
  readonly labelsChanged: boolean;
  /** status or the isArchived extension. */
  readonly otherChanged: boolean;
}

const VISIBILITY_CODES: ReadonlySet<string> = new Set(Object.values(VISIBILITY));

/**
 * The DMP metadata update (TD3.3): a patch may change `status`, the `isArchived` extension and the
 * visibility flags of `securityLabel` only (one TRE_A07 flag added or removed per patch, every
 * other label kept as it was: dmp-domain.md §2.6). The RESULT is compared with the current
 * version, whatever the operations were; anything else changed is a 405 naming the elements.
 */
export function assertMetadataOnlyChange(before: DocumentReference, after: DocumentReference): MetadataChanges {
  const changed = changedElements(before, after);
  const refused = changed.filter((key) => key !== 'status' && key !== 'securityLabel' && key !== 'extension');
  if (refused.length > 0) {
    const names = refused.map((key) => `DocumentReference.${key}`);
    throw new FhirError(
      'PATCH_NOT_ALLOWED',
      `A PATCH may change only status, securityLabel (visibility flags) and the isArchived extension of a DocumentReference; this one changes ${names.join(', ')}`,
      names
    );
  }
  if (changed.includes('extension')) {
    assertOnlyArchivedExtensionChanged(before.extension ?? [], after.extension ?? []);
  }
  if (changed.includes('securityLabel')) {
    assertOneVisibilityFlagChanged(before.securityLabel ?? [], after.securityLabel ?? []);
  }
  return { labelsChanged: changed.includes('securityLabel'), otherChanged: changed.includes('status') || changed.includes('extension') };
}

/** Top-level elements whose content differs (meta: only the server-owned version fields are ignored). */
function changedElements(before: DocumentReference, after: DocumentReference): string[] {
  const a0: Record<string, unknown> = { ...before };
  const b0: Record<string, unknown> = { ...after };
  const keys = new Set([...Object.keys(a0), ...Object.keys(b0)]);
  return [...keys].filter((key) => {
    const a = a0[key];
    const b = b0[key];
    return key === 'meta' ? canonicalJson(clientMeta(a as Meta)) !== canonicalJson(clientMeta(b as Meta)) : canonicalJson(a) !== canonicalJson(b);
  });
}

function clientMeta(meta: Meta | undefined): Meta {
  const { versionId: _v, lastUpdated: _l, ...rest } = meta ?? {};
  return rest;
}

function assertOnlyArchivedExtensionChanged(before: Extension[], after: Extension[]): void {
  const others = (list: Extension[]): string[] => list.filter((e) => e.url !== IS_ARCHIVED_EXTENSION_URL).map(canonicalJson).sort();
  if (canonicalJson(others(before)) !== canonicalJson(others(after))) {
    throw new FhirError('PATCH_NOT_ALLOWED', `Only the isArchived extension (${IS_ARCHIVED_EXTENSION_URL}) may be changed by a PATCH; other extensions stay as they are`, ['DocumentReference.extension']);
  }
  const archived = after.filter((e) => e.url === IS_ARCHIVED_EXTENSION_URL);
  const wellFormed = archived.every((e) => typeof e.valueBoolean === 'boolean' && Object.keys(e).every((k) => k === 'url' || k === 'valueBoolean'));
  if (archived.length > 1 || !wellFormed) {
    throw new FhirError('INVALID_RESOURCE', `The isArchived extension appears at most once, with a valueBoolean only`, ['DocumentReference.extension']);
  }
}

/**
 * securityLabel: the labels removed and added, compared as whole CodeableConcepts (order aside),
 * must come to a single TRE_A07 flag of the DMP value set, alone in its CodeableConcept.
 */
function assertOneVisibilityFlagChanged(before: CodeableConcept[], after: CodeableConcept[]): void {
  const removed = without(before, after);
  const added = without(after, before);
  const delta = [...removed, ...added];
  const where = ['DocumentReference.securityLabel'];
  if (delta.length === 0) {
    return; // the same labels in another order
  }
  if (delta.length !== 1 || !isVisibilityFlag(delta[0])) {
    throw new FhirError(
      'PATCH_NOT_ALLOWED',
      `A PATCH adds or removes one visibility flag (${[...VISIBILITY_CODES].join(', ')}, system ${VISIBILITY_SYSTEM}, one coding per label) and keeps every other security label; this one changes ${delta.length} label(s)`,
      where
    );
  }
  const code = delta[0].coding?.[0]?.code as string;
  if (added.length === 1 && before.some((label) => label.coding?.some((c) => c.system === VISIBILITY_SYSTEM && c.code === code))) {
    throw new FhirError('PATCH_NOT_ALLOWED', `The document already carries the visibility flag ${code}`, where);
  }
}

/** Items of `list` left once each item of `minus` has taken out one equal item (a multiset difference). */
function without(list: CodeableConcept[], minus: CodeableConcept[]): CodeableConcept[] {
  const remaining = minus.map(canonicalJson);
  return list.filter((item) => {
    const at = remaining.indexOf(canonicalJson(item));
    if (at < 0) {
      return true;
    }
    remaining.splice(at, 1);
    return false;
  });
}

function isVisibilityFlag(label: CodeableConcept): boolean {
  const coding = label.coding ?? [];
  return coding.length === 1 && coding[0].system === VISIBILITY_SYSTEM && VISIBILITY_CODES.has(coding[0].code ?? '');
}
