Profile: DmpPatientIns
Parent: Patient
Id: dmp-patient-ins
Title: "DMP Patient (INS)"
Description: "A DMP: the Patient the server holds it on, keyed by the patient's INS. Enforced on every write: at least one identifier with system and value, a name with a family name, gender and birth date (below); and, in code (src/dmp/patient-ins.ts, 422 with the element named): an active INS identifier (NIR, NIA, test or demo NIR system, use other than old; INS_REQUIRED) whose 15-character matricule passes the Corsica rule and the key 97 - (N mod 97) (INVALID_INS); a qualified identity, FR Core identity reliability extension with identityStatus QUAL (IDENTITY_NOT_QUALIFIED); the INS traits: an official name with birth family name, first birth given name and the list of birth given names extension, gender, birth date, birth place with its INSEE code (INS_TRAITS_MISSING). One DMP per INS (409 DMP_ALREADY_EXISTS; an opposition to creation, 409 DMP_CREATION_OPPOSED). State: active and the dmp-fermeture closure extension (dateFermeture, motifFermeture patient-demande / deces / opposition-creation, raisonFermeture), changed by $close, $reopen, $destroy."
* identifier 1..*
* identifier.system 1..1
* identifier.value 1..1
* name 1..*
* name.family 1..1
* gender 1..1
* birthDate 1..1
