Profile: DmpDocumentReference
Parent: DocumentReference
Id: dmp-document-reference
Title: "DMP DocumentReference"
Description: "Metadata of a document in the DMP, enforced on every write: a single subject that is a Patient, a document type, and a MIME type on every attachment; the date is optional. In code: the category (class, TRE_A03) is derived from a DMP type (LOINC or TRE_A05, table src/dmp/type-class.ts) and a different class is refused (422 DOCUMENT_CLASS_MISMATCH); an attachment.url of this server's Binary is made absolute on the FHIR base. A document submitted through IHE MHD (ITI-65, ITI-105) must also conform to dmp-comprehensive-document-reference."
* subject 1..1
* subject only Reference(Patient)
* type 1..1
* content.attachment.contentType 1..1
* date 0..1

Profile: DmpComprehensiveDocumentReference
Parent: DmpDocumentReference
Id: dmp-comprehensive-document-reference
Title: "DMP DocumentReference, comprehensive metadata (ITI-65, ITI-105)"
Description: "What the server requires of every DocumentReference of an ITI-65 Provide Document Bundle and of an ITI-105 Simplified Publish (src/mhd/document-metadata.ts, 422 MHD_SUBMISSION_INVALID naming each missing element), after PDSm's comprehensive DocumentReference. In code besides the cardinalities below: the type is a DMP type; status is current; a confidentiality code (N, R, V) besides any TRE_A07 visibility flag; the subject is a DMP of this server, by reference or by INS; size and hash (SHA-1, base64) match the bytes. ITI-65 points to the content (attachment.url, size and hash required); ITI-105 carries it inline (attachment.data), the server stores it as a Binary and sets url, size and hash."
* masterIdentifier 1..1
* masterIdentifier.value 1..1
* status = #current
* author 1..*
* custodian 1..1
* date 1..1
* securityLabel 1..*
* content.format 1..1
* content.attachment.language 1..1
* content.attachment.title 1..1
* content.attachment.creation 1..1
* context 1..1
* context.period 1..1
* context.period.start 1..1
* context.facilityType 1..1
* context.practiceSetting 1..1
