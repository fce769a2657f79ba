import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { Binary } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcomes.js';
import { openBinaryContent } from '../repo/binary-content.js';
import type { Queryable } from '../repo/pool.js';

/**
 * Sends one stored Binary version as its own bytes (ITI-68 Retrieve Document, Binary read): headers
 * first (Content-Type = the Binary's, Content-Length = its size), then the content, read from the
 * database one chunk at a time as the client takes it (at most about two chunks in memory). The
 * access decision and the audit trace were made before this is called.
 */
export async function streamBinary(res: Response, q: Queryable, status: number, binary: Binary, versionId: number): Promise<void> {
  const content = await openBinaryContent(q, binary.id ?? '', versionId);
  if (!content) {
    // Erased (purge) between the decision and now.
    throw new FhirError('NOT_FOUND', `Binary/${binary.id ?? ''} does not exist`);
  }
  res.status(status);
  res.setHeader('Content-Type', binary.contentType || 'application/octet-stream');
  res.setHeader('Content-Length', String(content.size));
  // Byte mode with a tiny high-water mark: the next chunk is queried only once the socket took the last one.
  const source = Readable.from(content.chunks(), { objectMode: false, highWaterMark: 1 });
  try {
    await pipeline(source, res);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
      return; // The client went away: nothing more to send, nothing wrong on our side.
    }
    // Headers are gone: the connection is cut, so the client sees a body shorter than Content-Length.
    throw err;
  }
}
