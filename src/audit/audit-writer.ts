import { createHash, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { ResourceRepo } from '../repo/resource-repo.js';
import { PROFILE_URLS } from '../fhir/validate.js';
import { SqlParams } from '../repo/sql.js';
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

  /**
   * Writes the events now, in the repo's transaction or a new one: the chains of the records
   * involved are locked (in one order), extended in memory, and everything is inserted with one
   * statement per table.
   */
  async writeNow(repo: ResourceRepo, inputs: readonly AuditInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) {
      return [];
    }
    return repo.transaction(async (tx) => {
      const keys = [...new Set(inputs.map((i) => i.patientId ?? ''))].sort();
      for (const key of keys) {
        await tx.lockKey(`audit-chain:${key}`);
      }
      const q = new SqlParams();
      const { rows } = await tx.queryable.query<{ chain_key: string; seq: number | string; last_hash: string }>(
        `SELECT chain_key, seq, last_hash FROM audit_chain WHERE chain_key IN (${q.list(keys)})`,
        q.values
      );
      const heads = new Map(rows.map((r) => [r.chain_key, { seq: Number(r.seq), hash: r.last_hash }]));
      const events: { id: string; resource: AuditEvent }[] = [];
      const entries: unknown[][] = [];
      for (const input of inputs) {
        const key = input.patientId ?? '';
        const head = heads.get(key) ?? { seq: 0, hash: GENESIS };
        const seq = head.seq + 1;
        const id = randomUUID();
        const event: AuditEvent = {
          ...buildAuditEvent(input, this.server),
          id,
          meta: { profile: PROFILE_URLS.AuditEvent ? [PROFILE_URLS.AuditEvent] : undefined },
          extension: [{ url: CHAIN_SEQ_URL, valueInteger: seq }],
        };
        const hash = chainHash(head.hash, event);
        event.extension = [...(event.extension ?? []), { url: CHAIN_HASH_URL, valueString: hash }];
        heads.set(key, { seq, hash });
        events.push({ id, resource: event });
        entries.push([key, seq, id, hash]);
      }
      const stored = await tx.createMany('AuditEvent', events);
      const c = new SqlParams();
      const chainRows = keys.map((key) => `(${c.list([key, (heads.get(key) as { seq: number }).seq, (heads.get(key) as { hash: string }).hash])})`);
      await tx.queryable.query(
        `INSERT INTO audit_chain (chain_key, seq, last_hash) VALUES ${chainRows.join(', ')}
         ON CONFLICT (chain_key) DO UPDATE SET seq = EXCLUDED.seq, last_hash = EXCLUDED.last_hash`,
        c.values
      );
      const e = new SqlParams();
      await tx.queryable.query(`INSERT INTO audit_chain_entries (chain_key, seq, audit_id, hash) VALUES ${entries.map((row) => `(${e.list(row)})`).join(', ')}`, e.values);
      return stored;
    });
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
