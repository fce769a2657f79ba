import type { Response } from 'express';
import type { Resource } from '@medplum/fhirtypes';
import { resourceToXml } from '../fhir/xml.js';
import { FHIR_JSON, FHIR_XML, isXmlFormat, type ResponseFormat } from './negotiation.js';

/** Sends a resource (or Bundle, OperationOutcome) as FHIR XML when XML was negotiated, else as FHIR JSON; UTF-8. */
export function writeResource(res: Response, status: number, resource: Resource, format: ResponseFormat, pretty = false): void {
  res.status(status);
  if (isXmlFormat(format)) {
    res.type(FHIR_XML).send(resourceToXml(resource));
    return;
  }
  res.type(FHIR_JSON).send(JSON.stringify(resource, undefined, pretty ? 2 : undefined));
}
