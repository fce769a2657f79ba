import type { Migration } from './index.js';

/**
 * Binary content is stored uncompressed out of line (STORAGE EXTERNAL): a chunked read
 * (`substring(bytes from n for len)`, binary-content.ts) then fetches only the pieces it needs,
 * where a compressed value would be decompressed from its start for every chunk. Documents are
 * mostly PDFs and images, already compressed. Applies to rows written from now on.
 */
export const binaryStorageMigration: Migration = {
  id: '006-binary-storage',
  statements: ['ALTER TABLE res_binary ALTER COLUMN bytes SET STORAGE EXTERNAL', 'ALTER TABLE hist_binary ALTER COLUMN bytes SET STORAGE EXTERNAL'],
};
