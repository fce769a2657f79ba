import type { Resource } from '@medplum/fhirtypes';
import type { Principal } from '../policy/principal.js';
import type { ResourceRepo } from '../repo/resource-repo.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { DmpPolicy } from '../policy/dmp-gate.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** A FHIR interaction, free of any HTTP framework: what handlers receive. */
export interface FhirRequest {
  readonly method: HttpMethod;
  /** Path below the FHIR base, without leading slash: `Patient/123/_history/2`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string[]>>;
  /** Parsed JSON body (a FHIR resource for writes). */
  readonly body?: unknown;
  readonly headers: {
    readonly ifMatch?: string;
    readonly ifNoneExist?: string;
    readonly ifNoneMatch?: string;
    readonly ifModifiedSince?: string;
    readonly prefer?: string;
    /** The body's media type (PATCH tells JSON Patch from FHIRPath Patch by it); absent in Bundle entries. */
    readonly contentType?: string;
  };
}

/** What a handler answers; the HTTP layer (or a Bundle entry) turns it into a response. */
export interface FhirResponse {
  readonly status: number;
  readonly resource?: Resource;
  /** Relative `Type/id/_history/vid`, for 201 answers. */
  readonly location?: string;
  readonly versionId?: string;
  readonly lastUpdated?: string;
  /** True when the body is a result the Prefer header may replace (create, update). */
  readonly preferApplies?: boolean;
  /** What the interaction touched, for the audit trail (defaults to the response resource). */
  readonly touched?: readonly TouchedResource[];
}

/** A resource an interaction read or changed, and the patient record it belongs to. */
export interface TouchedResource {
  readonly ref: string;
  readonly patientId: string | null;
}

/** Settings handlers need. */
export interface FhirSettings {
  /** Absolute public FHIR base URL, e.g. `https://dmp.example/fhir`. */
  readonly fhirBase: string;
  readonly searchDefaultCount: number;
  readonly searchMaxCount: number;
  /** `$pilotage`: strata counting less than this are withheld (PILOTAGE_MIN_CELL_COUNT; 1 = none). */
  readonly pilotageMinCellCount?: number;
}

/** Everything a handler may use: storage (already bound to a transaction when in one), caller, settings. */
export interface HandlerContext {
  readonly repo: ResourceRepo;
  readonly principal: Principal;
  readonly settings: FhirSettings;
  /** Writes the audit trail; absent only where nothing is traced (internal jobs, unit tests). */
  readonly audit?: AuditWriter;
  readonly requestId?: string;
  /** The DMP access rules (issue 4); absent only in internal jobs. */
  readonly policy?: DmpPolicy;
  /**
   * Checks to run at the end of the current transaction Bundle, before it commits (a failure rolls
   * the whole Bundle back); present only while a transaction Bundle runs.
   */
  readonly beforeCommit?: ((repo: ResourceRepo) => Promise<void>)[];
}
