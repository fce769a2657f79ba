import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { PROFILE_URLS } from '../fhir/validate.js';
import { buildAuditEvent, CHAIN_HASH_URL, CHAIN_SEQ_URL, type AuditInput } from './audit-event.js';

/** JSON with object keys sorted at every level: the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash of an event in its chain: SHA-256 over the previous hash and the event (its own hash and meta left out). */
export function chainHash(previous: string, event: AuditEvent): string {
  const { meta: _meta, ...rest } = event;
  const body = { ...rest, extension: (rest.extension ?? []).filter((e) => e.url !== CHAIN_HASH_URL) };
  return createHash('sha256').update(previous).update('\n').update(canonicalJson(body)).digest('hex');
}

const GENESIS = 'genesis';

interface Pending {
  readonly inputs: readonly AuditInput[];
  resolve(): void;
  reject(err: unknown): void;
}

/** Writes AuditEvents durably, each chained to the previous one of the same patient record. */
export class AuditWriter {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly server: { name: string; clientSystem: string }) {}

  /**
   * Writes the events of a request. Inside a transaction (a write), they join it: the change and
   * its audit commit together. Otherwise (a read), they are written with the events of the other
   * requests waiting at the same moment, in one transaction, and this resolves once that is
   * committed: durable before the answer, at a fraction of the cost of one transaction each.
   */
  async write(repo: ResourceRepo, inputs: readonly AuditInput[]): Promise<void> {
    if (inputs.length === 0) {
      return;
    }
    if (repo.inTransaction) {
      await this.writeNow(repo, inputs);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ inputs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush(repo));
      }
    });
  }

  private async flush(repo: ResourceRepo): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      await this.writeNow(repo, batch.flatMap((p) => p.inputs));
      batch.forEach((p) => p.resolve());
    } catch (err) {
      batch.forEach((p) => p.reject(err));
    }
  }

  /** Writes the events now, in the repo's transaction or a new one. */
  async writeNow(repo: ResourceRepo, inputs: readonly AuditInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) {
      return [];
    }
    return repo.transaction(async (tx) => {
      const written: AuditEvent[] = [];
      // One order for the chain locks, so concurrent writers never deadlock.
      const sorted = [...inputs].sort((a, b) => (a.patientId ?? '').localeCompare(b.patientId ?? ''));
      for (const input of sorted) {
        written.push(await this.append(tx, input));
      }
      return written;
    });
  }

  private async append(tx: ResourceRepo, input: AuditInput): Promise<AuditEvent> {
    const key = input.patientId ?? '';
    await tx.lockKey(`audit-chain:${key}`);
    const { rows } = await tx.queryable.query<{ seq: number | string; last_hash: string }>('SELECT seq, last_hash FROM audit_chain WHERE chain_key = $1', [key]);
    const seq = rows[0] ? Number(rows[0].seq) + 1 : 1;
    const previous = rows[0]?.last_hash ?? GENESIS;
    const id = randomUUID();
    const event: AuditEvent = {
      ...buildAuditEvent(input, this.server),
      id,
      meta: { profile: PROFILE_URLS.AuditEvent ? [PROFILE_URLS.AuditEvent] : undefined },
      extension: [{ url: CHAIN_SEQ_URL, valueInteger: seq }],
    };
    const hash = chainHash(previous, event);
    event.extension = [...(event.extension ?? []), { url: CHAIN_HASH_URL, valueString: hash }];
    const stored = await tx.create('AuditEvent', event, id);
    await tx.queryable.query(
      `INSERT INTO audit_chain (chain_key, seq, last_hash) VALUES ($1, $2, $3)
       ON CONFLICT (chain_key) DO UPDATE SET seq = $2, last_hash = $3`,
      [key, seq, hash]
    );
    await tx.queryable.query('INSERT INTO audit_chain_entries (chain_key, seq, audit_id, hash) VALUES ($1, $2, $3, $4)', [key, seq, id, hash]);
    return stored;
  }
}

/** `$verify-audit`: recomputes a patient's chain; the first broken link, if any. */
export async function verifyChain(repo: ResourceRepo, patientId: string): Promise<{ valid: boolean; count: number; brokenAt?: number; problem?: string }> {
  const { rows } = await repo.queryable.query<{ seq: number | string; audit_id: string; hash: string }>(
    'SELECT seq, audit_id, hash FROM audit_chain_entries WHERE chain_key = $1 ORDER BY seq',
    [patientId]
  );
  let previous = GENESIS;
  let expectedSeq = 1;
  for (const row of rows) {
    const seq = Number(row.seq);
    if (seq !== expectedSeq) {
      return { valid: false, count: rows.length, brokenAt: expectedSeq, problem: 'an event of the chain is missing' };
    }
    const stored = await repo.read('AuditEvent', row.audit_id);
    const event = stored?.resource as AuditEvent | undefined;
    const recorded = event?.extension?.find((e) => e.url === CHAIN_HASH_URL)?.valueString;
    if (!event || stored?.deleted || recorded !== row.hash || chainHash(previous, event) !== row.hash) {
      return { valid: false, count: rows.length, brokenAt: seq, problem: 'an event was changed or removed' };
    }
    previous = row.hash;
    expectedSeq += 1;
  }
  return { valid: true, count: rows.length };
}
