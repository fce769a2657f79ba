Profile: DmpSubmissionSet
Parent: List
Id: dmp-submission-set
Title: "DMP SubmissionSet (ITI-65)"
Description: "The SubmissionSet List of an ITI-65 Provide Document Bundle, as the server checks it (src/mhd/submission.ts, 422 MHD_SUBMISSION_INVALID): code submissionset of the IHE MHD list types, status current, mode working, the submission time, the subject (the same patient as every document of the Bundle), an entry for every DocumentReference of the Bundle, and the sourceId extension (https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId, valueIdentifier). One SubmissionSet per Bundle."
* status = #current
* mode = #working
* code 1..1
* subject 1..1
* date 1..1
* entry 1..*
* entry.item 1..1
