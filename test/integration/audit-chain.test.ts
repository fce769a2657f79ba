import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '@medplum/fhirtypes';
import { AuditWriter, verifyChain } from '../../src/audit/audit-writer.js';
import { validateForWrite } from '../../src/fhir/validate.js';
import { INTERNAL } from '../../src/policy/principal.js';
import { ResourceRepo } from '../../src/repo/resource-repo.js';
import { getTestServer } from '../helpers/server.js';

describe('audit trail hash chain', () => {
  const writer = new AuditWriter({ name: 'dmp-fhir-server (test)', clientSystem: 'urn:test:client' });

  async function writeEvents(patientId: string, n: number): Promise<AuditEvent[]> {
    const { db } = await getTestServer();
    const repo = new ResourceRepo(db);
    const out: AuditEvent[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        ...(await writer.writeNow(repo, [
          { interaction: 'read', principal: INTERNAL, patientId, entities: [`DocumentReference/${randomUUID()}`], outcome: { success: true }, requestId: `req-${i}`, recorded: new Date() },
        ]))
      );
    }
    return out;
  }

  it('when events are written for a patient, then each is a valid AuditEvent of our profile and the chain verifies', async () => {
    const patientId = randomUUID();
    const events = await writeEvents(patientId, 3);
    for (const e of events) {
      expect(() => validateForWrite(e)).not.to.throw();
    }
    const { db } = await getTestServer();
    expect(await verifyChain(new ResourceRepo(db), patientId)).to.deep.equal({ valid: true, count: 3 });
  });

  it('when a stored event is altered behind the server, then the chain check names the broken link', async () => {
    const patientId = randomUUID();
    const events = await writeEvents(patientId, 3);
    const { db } = await getTestServer();
    await db.query(`UPDATE res_auditevent SET content = jsonb_set(content, '{outcome}', '"8"') WHERE id = $1`, [events[1].id]);
    const result = await verifyChain(new ResourceRepo(db), patientId);
    expect(result.valid).to.equal(false);
    expect(result.brokenAt).to.equal(2);
  });

  it('when an event is removed from the chain, then the check fails', async () => {
    const patientId = randomUUID();
    await writeEvents(patientId, 3);
    const { db } = await getTestServer();
    await db.query('DELETE FROM audit_chain_entries WHERE chain_key = $1 AND seq = 2', [patientId]);
    const result = await verifyChain(new ResourceRepo(db), patientId);
    expect(result.valid).to.equal(false);
    expect(result.brokenAt).to.equal(2);
  });

  it('when two writers append to the same chain at once, then the chain stays unbroken', async () => {
    const patientId = randomUUID();
    await Promise.all([writeEvents(patientId, 3), writeEvents(patientId, 3)]);
    const { db } = await getTestServer();
    expect(await verifyChain(new ResourceRepo(db), patientId)).to.deep.equal({ valid: true, count: 6 });
  });
});
