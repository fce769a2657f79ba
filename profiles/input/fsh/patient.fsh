Profile: DmpPatientIns
Parent: Patient
Id: dmp-patient-ins
Title: "DMP Patient (INS)"
Description: "Patient whose DMP the server holds. The server enforces the presence of the INS identity traits it needs to find the DMP: at least one identifier with system and value, a name with a family name, gender and birth date. INS business rules (matricule key, qualified identity) are checked in code, not here."
* identifier 1..*
* identifier.system 1..1
* identifier.value 1..1
* name 1..*
* name.family 1..1
* gender 1..1
* birthDate 1..1
