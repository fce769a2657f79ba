Profile: DmpAuditEvent
Parent: AuditEvent
Id: dmp-audit-event
Title: "DMP AuditEvent"
Description: "An access trace the patient can read. The server enforces that every agent names who acted, that at least one entity says what was accessed, and that the outcome is recorded."
* agent.who 1..1
* entity 1..*
* outcome 1..1
