import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** System of the stable message codes carried in OperationOutcome.issue.details.coding. */
export const ERROR_CODE_SYSTEM = 'https://dmp-fhir-server.org/fhir/CodeSystem/dmp-error';

type IssueType = OperationOutcomeIssue['code'];

interface CatalogueEntry {
  /** Stable code, never reused: clients and tests match on it. */
  readonly id: string;
  readonly status: number;
  readonly code: IssueType;
}

/**
 * Every error the server can answer with. Ids are stable (test/unit/outcomes.test.ts fails on
 * duplicates); statuses follow FHIR R4 http.html.
 */
export const CATALOGUE = {
  NOT_FOUND: { id: 'DMPF-0001', status: 404, code: 'not-found' },
  GONE: { id: 'DMPF-0002', status: 410, code: 'deleted' },
  UNKNOWN_TYPE: { id: 'DMPF-0003', status: 404, code: 'not-supported' },
  UNKNOWN_ROUTE: { id: 'DMPF-0004', status: 404, code: 'not-supported' },
  METHOD_NOT_ALLOWED: { id: 'DMPF-0005', status: 405, code: 'not-supported' },
  /** A PATCH changing an element the DMP metadata update (TD3.3) does not allow. */
  PATCH_NOT_ALLOWED: { id: 'DMPF-0006', status: 405, code: 'business-rule' },
  MALFORMED_BODY: { id: 'DMPF-0010', status: 400, code: 'structure' },
  BODY_TOO_LARGE: { id: 'DMPF-0011', status: 413, code: 'too-long' },
  WRONG_RESOURCE_TYPE: { id: 'DMPF-0012', status: 400, code: 'invalid' },
  ID_MISMATCH: { id: 'DMPF-0013', status: 400, code: 'invalid' },
  MISSING_ID: { id: 'DMPF-0014', status: 400, code: 'required' },
  INVALID_RESOURCE: { id: 'DMPF-0015', status: 400, code: 'structure' },
  PROFILE_VIOLATION: { id: 'DMPF-0016', status: 422, code: 'processing' },
  INVALID_ID: { id: 'DMPF-0017', status: 400, code: 'value' },
  BAD_REQUEST: { id: 'DMPF-0018', status: 400, code: 'invalid' },
  /** A document (Binary content, attachment data) larger than BINARY_MAX_BYTES, whatever the body that carries it. */
  BINARY_TOO_LARGE: { id: 'DMPF-0019', status: 413, code: 'too-long' },
  NOT_ACCEPTABLE: { id: 'DMPF-0020', status: 406, code: 'not-supported' },
  UNSUPPORTED_MEDIA_TYPE: { id: 'DMPF-0021', status: 415, code: 'not-supported' },
  PRECONDITION_FAILED: { id: 'DMPF-0030', status: 412, code: 'conflict' },
  CONDITIONAL_NOT_SELECTIVE: { id: 'DMPF-0031', status: 412, code: 'multiple-matches' },
  CONFLICT: { id: 'DMPF-0032', status: 409, code: 'conflict' },
  UNKNOWN_SEARCH_PARAM: { id: 'DMPF-0040', status: 400, code: 'not-supported' },
  INVALID_SEARCH_VALUE: { id: 'DMPF-0041', status: 400, code: 'value' },
  UNSUPPORTED_SEARCH_FEATURE: { id: 'DMPF-0042', status: 400, code: 'not-supported' },
  INVALID_PAGE_CURSOR: { id: 'DMPF-0043', status: 400, code: 'value' },
  SEARCH_PARAM_IGNORED: { id: 'DMPF-0044', status: 200, code: 'not-supported' },
  INVALID_BUNDLE: { id: 'DMPF-0050', status: 400, code: 'invalid' },
  UNRESOLVED_REFERENCE: { id: 'DMPF-0051', status: 400, code: 'not-found' },
  MHD_SUBMISSION_INVALID: { id: 'DMPF-0052', status: 422, code: 'business-rule' },
  DOCUMENT_CLASS_MISMATCH: { id: 'DMPF-0053', status: 422, code: 'business-rule' },
  REPLACEMENT_INVALID: { id: 'DMPF-0054', status: 422, code: 'business-rule' },
  UNAUTHORIZED: { id: 'DMPF-0060', status: 401, code: 'login' },
  FORBIDDEN: { id: 'DMPF-0061', status: 403, code: 'forbidden' },
  INSUFFICIENT_SCOPE: { id: 'DMPF-0062', status: 403, code: 'forbidden' },
  OUTSIDE_PATIENT_CONTEXT: { id: 'DMPF-0063', status: 403, code: 'forbidden' },
  INVALID_INS: { id: 'DMPF-0070', status: 422, code: 'business-rule' },
  INS_REQUIRED: { id: 'DMPF-0080', status: 422, code: 'required' },
  IDENTITY_NOT_QUALIFIED: { id: 'DMPF-0081', status: 422, code: 'business-rule' },
  INS_TRAITS_MISSING: { id: 'DMPF-0082', status: 422, code: 'required' },
  DMP_ALREADY_EXISTS: { id: 'DMPF-0083', status: 409, code: 'duplicate' },
  DMP_CREATION_OPPOSED: { id: 'DMPF-0084', status: 409, code: 'business-rule' },
  DMP_STATE_CONFLICT: { id: 'DMPF-0085', status: 409, code: 'conflict' },
  DMP_RETENTION_EXPIRED: { id: 'DMPF-0086', status: 409, code: 'business-rule' },
  DATABASE_UNAVAILABLE: { id: 'DMPF-0090', status: 503, code: 'transient' },
  INTERNAL: { id: 'DMPF-0099', status: 500, code: 'exception' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorKind = keyof typeof CATALOGUE;

/** Builds an OperationOutcome for a catalogue entry. */
export function outcomeOf(
  kind: ErrorKind,
  text: string,
  expression?: string[],
  severity: OperationOutcomeIssue['severity'] = 'error'
): OperationOutcome {
  const entry = CATALOGUE[kind];
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity,
        code: entry.code,
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code: entry.id }], text },
        diagnostics: entry.id,
        ...(expression && expression.length > 0 ? { expression } : {}),
      },
    ],
  };
}

/** A typed domain error: thrown anywhere, turned into an OperationOutcome response at the HTTP edge. */
export class FhirError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;

  constructor(kind: ErrorKind, text: string, expression?: string[]) {
    super(text);
    this.status = CATALOGUE[kind].status;
    this.outcome = outcomeOf(kind, text, expression);
  }

  /** An error carrying several issues (validation), all under one catalogue entry. */
  static withIssues(kind: ErrorKind, issues: OperationOutcomeIssue[]): FhirError {
    const err = new FhirError(kind, issues.map((i) => i.details?.text ?? i.diagnostics ?? '').join('; '));
    const coding = [{ system: ERROR_CODE_SYSTEM, code: CATALOGUE[kind].id }];
    err.outcome.issue = issues.map((i) => ({
      ...i,
      details: { ...(i.details ?? {}), coding },
      diagnostics: CATALOGUE[kind].id,
    }));
    return err;
  }
}

/** A success outcome (used for DELETE and Prefer: return=OperationOutcome). */
export function informational(text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', details: { text } }],
  };
}
