/**
 * The search index follows the supported parameters across releases (src/repo/reindex.ts): a type
 * whose parameter set changed gets its index rebuilt at startup; nothing else is touched.
 */
import { expect } from 'chai';
import type { RelatedPerson } from '@medplum/fhirtypes';
import { parameterFingerprint, reindexChangedTypes } from '../../src/repo/reindex.js';
import { fhirFetch, testPatient } from '../helpers/fhir.js';
import { getTestServer } from '../helpers/server.js';

describe('search index rebuilt when the supported parameters change', () => {
  it('when a type\'s parameter fingerprint differs from the recorded one, then its rows are re-indexed (and only that type), then the fingerprint is recorded', async () => {
    const { db } = await getTestServer();
    await reindexChangedTypes(db); // records every fingerprint of this database
    expect(await reindexChangedTypes(db), 'nothing changed since').to.deep.equal([]);

    const patient = (await (await fhirFetch('Patient', { method: 'POST', body: JSON.stringify(testPatient()) })).json()) as { id: string };
    const body: RelatedPerson = { resourceType: 'RelatedPerson', patient: { reference: `Patient/${patient.id}` }, name: [{ family: 'REINDEX', given: ['Rita'] }] };
    const related = (await (await fhirFetch('RelatedPerson', { method: 'POST', body: JSON.stringify(body) })).json()) as { id: string };
    // An index from before a release: the rows of this resource are missing, the fingerprint is old.
    await db.query(`DELETE FROM sp_reference WHERE res_type = 'RelatedPerson' AND res_id = $1`, [related.id]);
    await db.query(`UPDATE app_state SET value = 'an older parameter set' WHERE key = 'search-index:RelatedPerson'`);
    const before = await fhirFetch(`RelatedPerson?patient=${patient.id}`);
    expect(((await before.json()) as { total: number }).total).to.equal(0);

    expect(await reindexChangedTypes(db)).to.deep.equal(['RelatedPerson']);
    const after = (await (await fhirFetch(`RelatedPerson?patient=${patient.id}`)).json()) as { total: number };
    expect(after.total).to.equal(1);
    const { rows } = await db.query<{ value: string }>(`SELECT value FROM app_state WHERE key = 'search-index:RelatedPerson'`);
    expect(rows[0].value).to.equal(parameterFingerprint('RelatedPerson'));
  });
});
