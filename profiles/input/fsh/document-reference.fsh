Profile: DmpDocumentReference
Parent: DocumentReference
Id: dmp-document-reference
Title: "DMP DocumentReference"
Description: "Metadata of a document in the DMP. The server enforces a single subject that is a Patient, a document type, and a MIME type on every attachment; the date is optional."
* subject 1..1
* subject only Reference(Patient)
* type 1..1
* content.attachment.contentType 1..1
* date 0..1
