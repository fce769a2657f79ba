import { historyTable } from '../fhir/resource-types.js';
import type { Queryable } from './pool.js';

/** How much of a Binary's content one query brings into memory. */
export const CONTENT_CHUNK_BYTES = 1024 * 1024;

/** A stored Binary version's content, read on demand one chunk per query. */
export interface BinaryContent {
  /** Size in bytes (0 when the Binary has no data). */
  readonly size: number;
  /** The content in order, at most `CONTENT_CHUNK_BYTES` per chunk, each fetched when the previous one was taken. */
  chunks(): AsyncGenerator<Buffer>;
}

/** Raised when a version's content disappears or changes while it is read (erased by a purge meanwhile). */
export class ContentChangedError extends Error {}

interface ChunkRow {
  size?: number | null;
  chunk: Uint8Array | null;
}

/**
 * Opens the content of one Binary version, or undefined when that version is not stored. It is
 * read from the history table: a version's row there never changes, so successive chunk queries
 * see the same bytes even when the Binary is updated meanwhile, without holding a transaction open
 * while a slow client reads. The first query also brings the size and the first chunk.
 */
export async function openBinaryContent(q: Queryable, id: string, versionId: number, chunkBytes = CONTENT_CHUNK_BYTES): Promise<BinaryContent | undefined> {
  const table = historyTable('Binary');
  const { rows } = await q.query<ChunkRow>(
    `SELECT octet_length(bytes) AS size, substring(bytes from 1 for $3) AS chunk FROM ${table} WHERE id = $1 AND version_id = $2`,
    [id, versionId, chunkBytes]
  );
  if (!rows[0]) {
    return undefined;
  }
  const size = Number(rows[0].size ?? 0);
  const first = toBuffer(rows[0].chunk);
  return {
    size,
    async *chunks() {
      let offset = 0;
      let chunk = first;
      while (offset < size) {
        const expected = Math.min(chunkBytes, size - offset);
        if (!chunk || chunk.length !== expected) {
          throw new ContentChangedError(`Binary/${id} version ${versionId} changed while it was read (at byte ${offset})`);
        }
        offset += chunk.length;
        yield chunk;
        chunk = offset < size ? await readChunk(q, table, id, versionId, offset, chunkBytes) : undefined;
      }
    },
  };
}

/** The whole content of one Binary version (for answers that embed it as base64), or undefined. */
export async function readBinaryContent(q: Queryable, id: string, versionId: number): Promise<Buffer | undefined> {
  const { rows } = await q.query<{ bytes: Uint8Array | null }>(`SELECT bytes FROM ${historyTable('Binary')} WHERE id = $1 AND version_id = $2`, [id, versionId]);
  return toBuffer(rows[0]?.bytes ?? null);
}

async function readChunk(q: Queryable, table: string, id: string, versionId: number, offset: number, chunkBytes: number): Promise<Buffer | undefined> {
  // SQL substring positions start at 1.
  const { rows } = await q.query<ChunkRow>(`SELECT substring(bytes from $3 for $4) AS chunk FROM ${table} WHERE id = $1 AND version_id = $2`, [
    id,
    versionId,
    offset + 1,
    chunkBytes,
  ]);
  return toBuffer(rows[0]?.chunk ?? null);
}

/** pg gives a Buffer, PGlite a Uint8Array: a Buffer view on the same memory either way. */
function toBuffer(bytes: Uint8Array | null): Buffer | undefined {
  if (!bytes) {
    return undefined;
  }
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
