import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type {
  Binary,
  Bundle,
  BundleEntry,
  Consent,
  DocumentReference,
  Patient,
  Practitioner,
  PractitionerRole,
  Resource,
} from '@medplum/fhirtypes';
import { buildDemoBundle, buildMinimalPdf } from '../../scripts/seed/demo-bundle.js';
import * as ids from '../../src/dmp/identifiers.js';
import { validateIns } from '../../src/dmp/ins.js';

function resourcesOf<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

function entryByFullUrl(bundle: Bundle, url: string | undefined): BundleEntry | undefined {
  return (bundle.entry ?? []).find((e) => e.fullUrl === url);
}

/** Every `reference` and attachment `url` holding a urn:uuid, with its JSON path. */
function uuidLinks(value: unknown, path = ''): { path: string; target: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => uuidLinks(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const here = `${path}.${key}`;
    if ((key === 'reference' || key === 'url') && typeof v === 'string' && v.startsWith('urn:uuid:')) {
      return [{ path: here, target: v }];
    }
    return uuidLinks(v, here);
  });
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  [...digits].reverse().forEach((c, i) => {
    const d = Number(c) * (i % 2 === 1 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  });
  return sum % 10 === 0;
}

/** Checks the xref table of a classic (non-stream) PDF; returns the object numbers found. */
function checkPdfXref(pdf: Buffer): number[] {
  const text = pdf.toString('latin1');
  const startxref = /startxref\n(\d+)\n%%EOF\n$/.exec(text);
  expect(startxref, 'startxref + %%EOF trailer').to.not.equal(null);
  const xrefAt = Number(startxref![1]);
  expect(text.slice(xrefAt, xrefAt + 5)).to.equal('xref\n');
  const header = /^xref\n0 (\d+)\n/.exec(text.slice(xrefAt))!;
  const count = Number(header[1]);
  const tableStart = xrefAt + header[0].length;
  const objects: number[] = [];
  for (let n = 0; n < count; n++) {
    const row = text.slice(tableStart + 20 * n, tableStart + 20 * (n + 1));
    expect(row, `xref row ${n}`).to.match(/^\d{10} \d{5} [nf] \n$/);
    if (row[17] === 'f') continue;
    const offset = Number(row.slice(0, 10));
    expect(text.slice(offset, offset + `${n} 0 obj`.length), `object ${n} at ${offset}`).to.equal(`${n} 0 obj`);
    objects.push(n);
  }
  expect(text.slice(tableStart + 20 * count)).to.match(new RegExp(`^trailer\\n<< /Size ${count} /Root 1 0 R >>`));
  return objects;
}

describe('demo bundle (scripts/seed/demo-bundle)', () => {
  const bundle = buildDemoBundle();
  const entries = bundle.entry ?? [];
  const patients = resourcesOf<Patient>(bundle, 'Patient');
  const documents = resourcesOf<DocumentReference>(bundle, 'DocumentReference');

  it('when built twice, then both bundles are identical', () => {
    expect(JSON.stringify(buildDemoBundle())).to.equal(JSON.stringify(bundle));
  });

  it('when inspected, then it is a transaction of POSTs with unique urn:uuid fullUrls', () => {
    expect(bundle.type).to.equal('transaction');
    for (const e of entries) {
      expect(e.fullUrl).to.match(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(e.request).to.deep.equal({ method: 'POST', url: e.resource?.resourceType });
      expect(e.resource?.id, 'server assigns ids').to.equal(undefined);
    }
    expect(new Set(entries.map((e) => e.fullUrl)).size).to.equal(entries.length);
  });

  it('when counted, then it has the expected resources', () => {
    const counts: Record<string, number> = {};
    for (const e of entries) counts[e.resource!.resourceType] = (counts[e.resource!.resourceType] ?? 0) + 1;
    expect(counts).to.deep.equal({
      Organization: 3,
      Practitioner: 5,
      PractitionerRole: 5,
      Patient: 4,
      Binary: 8,
      DocumentReference: 8,
      Consent: 2,
    });
  });

  it('when references are followed, then every urn:uuid resolves inside the bundle', () => {
    const links = uuidLinks(entries.map((e) => e.resource));
    expect(links.length).to.be.greaterThan(40);
    for (const link of links) {
      expect(entryByFullUrl(bundle, link.target), `${link.path} -> ${link.target}`).to.not.equal(undefined);
    }
  });

  describe('patients', () => {
    it('when an INS is checked, then it is a valid test NIR with the FR Core INS slice shape', () => {
      for (const p of patients) {
        const ins = p.identifier?.find((i) => i.system === ids.INS_NIR_TEST_SYSTEM);
        expect(ins?.value, 'test INS').to.be.a('string');
        expect(validateIns(ins!.value!)).to.deep.equal({ ok: true });
        expect(ins!.use).to.equal('official');
        expect(ins!.type?.coding?.[0]).to.include({
          system: ids.FR_CORE_IDENTIFIER_TYPE_SYSTEM,
          code: ids.IDENTIFIER_TYPE.INS_NIR_TEST,
        });
      }
    });

    it('when an INS is compared with the traits, then sex, birth year/month and birth place agree', () => {
      for (const p of patients) {
        const ins = p.identifier![0].value!;
        const birthPlace = p.extension?.find((x) => x.url === ids.BIRTH_PLACE_EXTENSION_URL);
        const insee = birthPlace?.valueAddress?.extension?.find((x) => x.url === ids.INSEE_CODE_EXTENSION_URL);
        expect(ins[0]).to.equal(p.gender === 'male' ? '1' : '2');
        expect(ins.slice(1, 5)).to.equal(p.birthDate!.slice(2, 4) + p.birthDate!.slice(5, 7));
        expect(ins.slice(5, 10)).to.equal(insee?.valueCoding?.code);
        expect(insee?.valueCoding?.system).to.equal(ids.INSEE_COMMUNE_SYSTEM);
      }
    });

    it('when the required elements are checked, then each has identifier, official name, gender, birthDate, QUAL status', () => {
      for (const p of patients) {
        const name = p.name?.find((n) => n.use === 'official');
        expect(name?.family).to.be.a('string').and.not.equal('');
        expect(name?.given).to.have.length(1);
        const birthList = name?.extension?.find((x) => x.url === ids.BIRTH_LIST_GIVEN_NAME_EXTENSION_URL);
        expect(birthList?.valueString?.startsWith(name!.given![0])).to.equal(true);
        expect(p.gender).to.be.oneOf(['male', 'female']);
        expect(p.birthDate).to.match(/^\d{4}-\d{2}-\d{2}$/);
        const reliability = p.extension?.find((x) => x.url === ids.IDENTITY_RELIABILITY_EXTENSION_URL);
        const status = reliability?.extension?.find((x) => x.url === 'identityStatus');
        expect(status?.valueCoding).to.include({ system: ids.IDENTITY_STATUS_SYSTEM, code: ids.IDENTITY_STATUS.QUAL });
      }
    });

    it('when ages are computed, then exactly one patient is a minor and one is born in Corsica', () => {
      const eighteenYearsAgo = new Date();
      eighteenYearsAgo.setFullYear(eighteenYearsAgo.getFullYear() - 18);
      const minors = patients.filter((p) => new Date(p.birthDate!) > eighteenYearsAgo);
      expect(minors).to.have.length(1);
      expect(patients.filter((p) => /^\d{5}2[AB]/.test(p.identifier![0].value!))).to.have.length(1);
    });
  });

  describe('professionals', () => {
    it('when identifiers are checked, then IdNat_PS = 8 + a Luhn-valid 11-digit RPPS', () => {
      for (const p of resourcesOf<Practitioner>(bundle, 'Practitioner')) {
        const idnps = p.identifier?.find((i) => i.system === ids.IDNPS_SYSTEM)?.value ?? '';
        expect(idnps).to.match(/^8\d{11}$/);
        expect(luhnValid(idnps.slice(1)), idnps).to.equal(true);
        expect(p.name?.[0]?.family).to.be.a('string');
      }
    });

    it('when roles are checked, then each has a TRE_G15 profession, a practitioner and an organization', () => {
      const roles = resourcesOf<PractitionerRole>(bundle, 'PractitionerRole');
      const professions = roles.map((r) => r.code?.[0]?.coding?.[0]);
      expect(professions.every((c) => c?.system === ids.PROFESSION_SYSTEM)).to.equal(true);
      expect(professions.map((c) => c?.code).sort()).to.deep.equal(['10', '21', '40', '50', '60']);
      for (const r of roles) {
        expect(entryByFullUrl(bundle, r.practitioner?.reference)?.resource?.resourceType).to.equal('Practitioner');
        expect(entryByFullUrl(bundle, r.organization?.reference)?.resource?.resourceType).to.equal('Organization');
      }
      const gp = roles.find((r) => r.code?.[0]?.coding?.[0]?.code === ids.PROFESSION.MEDECIN);
      expect(gp?.specialty?.[0]?.coding?.[0]).to.include({ system: ids.SPECIALITY_SYSTEM, code: 'SM54' });
    });
  });

  describe('documents', () => {
    it('when each attachment is compared with its Binary, then contentType, size and SHA-1 match', () => {
      for (const doc of documents) {
        const attachment = doc.content[0].attachment;
        const binary = entryByFullUrl(bundle, attachment.url)?.resource as Binary | undefined;
        expect(binary?.resourceType).to.equal('Binary');
        const bytes = Buffer.from(binary!.data!, 'base64');
        expect(binary!.contentType).to.equal(attachment.contentType);
        expect(attachment.size).to.equal(bytes.length);
        expect(attachment.hash).to.equal(createHash('sha1').update(bytes).digest('base64'));
        expect(attachment.language).to.equal('fr-FR');
        expect(attachment.title).to.be.a('string');
      }
    });

    it('when metadata is checked, then status, type, class, format, context and references are set', () => {
      const classOf: Record<string, string> = { '11488-4': '10', '11502-2': '10', '34112-3': '10', '11506-3': '10', '60591-5': '11', '57833-6': '42' };
      for (const doc of documents) {
        expect(doc.status).to.equal('current');
        const type = doc.type?.coding?.[0];
        expect(type?.system).to.equal(ids.LOINC_SYSTEM);
        expect(doc.category?.[0]?.coding?.[0]).to.include({ system: ids.DOC_CLASS_SYSTEM, code: classOf[type!.code!] });
        expect(entryByFullUrl(bundle, doc.subject?.reference)?.resource?.resourceType).to.equal('Patient');
        expect(entryByFullUrl(bundle, doc.author?.[0]?.reference)?.resource?.resourceType).to.equal('Practitioner');
        expect(entryByFullUrl(bundle, doc.custodian?.reference)?.resource?.resourceType).to.equal('Organization');
        expect(doc.content[0].format?.system).to.equal(ids.IHE_FORMAT_CODE_SYSTEM);
        expect(doc.context?.facilityType?.coding?.[0]?.system).to.equal(ids.FACILITY_TYPE_SYSTEM);
        expect(doc.context?.practiceSetting?.coding?.[0]?.system).to.equal(ids.PRACTICE_SETTING_SYSTEM);
        expect(doc.context?.period?.start).to.be.a('string');
        expect(doc.date).to.be.a('string');
      }
      const types = new Set(documents.map((d) => d.type?.coding?.[0]?.code));
      for (const code of ['11488-4', '11502-2', '60591-5', '57833-6']) expect(types.has(code), code).to.equal(true);
    });

    it('when documents of several patients are counted, then every patient has at least one', () => {
      const subjects = new Set(documents.map((d) => d.subject?.reference));
      expect(subjects.size).to.equal(patients.length);
    });

    it('when security labels are checked, then all are N, one is MASQUE_PS and one is INVISIBLE_PATIENT', () => {
      const flags: string[] = [];
      for (const doc of documents) {
        const codings = (doc.securityLabel ?? []).map((l) => l.coding?.[0]);
        expect(codings[0]).to.include({ system: ids.CONFIDENTIALITY_SYSTEM, code: 'N' });
        for (const c of codings.slice(1)) {
          expect(c?.system).to.equal(ids.VISIBILITY_SYSTEM);
          flags.push(c!.code!);
        }
      }
      expect(flags.sort()).to.deep.equal([ids.VISIBILITY.INVISIBLE_PATIENT, ids.VISIBILITY.MASQUE_PS]);
    });

    it('when a PDF document is opened, then it starts with %PDF- and its xref offsets point at N 0 obj', () => {
      const pdfs = documents.filter((d) => d.content[0].attachment.contentType === 'application/pdf');
      expect(pdfs.length).to.be.greaterThan(0);
      for (const doc of pdfs) {
        const binary = entryByFullUrl(bundle, doc.content[0].attachment.url)?.resource as Binary;
        const bytes = Buffer.from(binary.data!, 'base64');
        expect(bytes.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
        expect(checkPdfXref(bytes)).to.deep.equal([1, 2, 3, 4, 5]);
        expect(doc.content[0].format?.code).to.equal('urn:ihe:iti:xds-sd:pdf:2008');
      }
    });

    it('when a text document is decoded, then it is French UTF-8 text', () => {
      const texts = documents.filter((d) => d.content[0].attachment.contentType === 'text/plain');
      expect(texts.length).to.be.greaterThan(0);
      for (const doc of texts) {
        const binary = entryByFullUrl(bundle, doc.content[0].attachment.url)?.resource as Binary;
        const text = Buffer.from(binary.data!, 'base64').toString('utf8');
        expect(text).to.match(/[éèàç]/);
        expect(doc.content[0].format?.code).to.equal('urn:ihe:iti:xds-sd:text:2008');
      }
    });
  });

  describe('buildMinimalPdf', () => {
    it('when text has parentheses, backslashes and accents, then the stream length and xref stay right', () => {
      const pdf = buildMinimalPdf(['(a) \\ b', 'Créatinine : 68 µmol/L']);
      const text = pdf.toString('latin1');
      expect(text).to.contain('(\\(a\\) \\\\ b) Tj');
      expect(checkPdfXref(pdf)).to.deep.equal([1, 2, 3, 4, 5]);
      const stream = /<< \/Length (\d+) >>\nstream\n([\s\S]*?)\nendstream/.exec(text)!;
      expect(Buffer.byteLength(stream[2], 'latin1')).to.equal(Number(stream[1]));
    });

    it('when text is not Latin-1, then it throws instead of writing a wrong byte', () => {
      expect(() => buildMinimalPdf(['l\u2019annonce'])).to.throw(RangeError);
    });
  });

  describe('consents', () => {
    it('when checked, then each is an active patient-privacy permit for one practitioner, purpose TREAT', () => {
      const consents = resourcesOf<Consent>(bundle, 'Consent');
      for (const c of consents) {
        expect(c.status).to.equal('active');
        expect(c.scope.coding?.[0]).to.include({ system: ids.CONSENT_SCOPE_SYSTEM, code: 'patient-privacy' });
        expect(c.category[0].coding?.[0]).to.include({ system: ids.LOINC_SYSTEM, code: ids.CONSENT_CATEGORY_LOINC });
        expect(entryByFullUrl(bundle, c.patient?.reference)?.resource?.resourceType).to.equal('Patient');
        expect(c.dateTime).to.be.a('string');
        expect(c.provision?.type).to.equal('permit');
        const actor = c.provision?.actor?.[0];
        expect(actor?.role.coding?.[0]).to.include({ system: ids.PARTICIPATION_TYPE_SYSTEM, code: 'IRCP' });
        expect(entryByFullUrl(bundle, actor?.reference.reference)?.resource?.resourceType).to.equal('Practitioner');
        expect(c.provision?.purpose?.[0]).to.include({ system: ids.ACT_REASON_SYSTEM, code: 'TREAT' });
      }
    });
  });
});
