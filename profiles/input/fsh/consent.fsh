Profile: DmpConsent
Parent: Consent
Id: dmp-consent
Title: "DMP Consent"
Description: "A patient's authorisation or refusal (authorised or blocked professional, opposition to emergency access). The server enforces the patient, the date the decision was recorded, and one root provision saying whether it permits or denies."
* patient 1..1
* dateTime 1..1
* provision 1..1
* provision.type 1..1
