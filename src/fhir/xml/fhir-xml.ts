/**
 * The FHIR XML format (R4 "XML representation of resources") for the REST layer:
 * `read` turns an XML body into the JSON form the engine validates and stores,
 * `write` turns any resource the server answers with into XML.
 */
import { errors, FhirError } from '../../errors.js';
import type { FhirDefinitions } from '../definitions.js';
import { ElementLayouts } from './element-layout.js';
import { FhirXmlReader } from './xml-reader.js';
import { FhirXmlWriter } from './xml-writer.js';

export class FhirXml {
  private readonly reader: FhirXmlReader;
  private readonly writer: FhirXmlWriter;

  constructor(definitions: FhirDefinitions) {
    const layouts = new ElementLayouts(definitions);
    this.reader = new FhirXmlReader(layouts, (type) => definitions.types[type]?.json);
    this.writer = new FhirXmlWriter(layouts);
  }

  /** Parses a FHIR XML document; malformed or unsafe XML is a FhirError 400. */
  read(text: string): Record<string, unknown> {
    try {
      return this.reader.read(text);
    } catch (error) {
      // Whatever the XML library throws on hostile input is the client's malformed body, never a 500.
      throw error instanceof FhirError ? error : errors.malformedXml(error instanceof Error ? error.message : 'it could not be parsed');
    }
  }

  /** Serialises a resource (JSON form) as a FHIR XML document. */
  write(resource: object, pretty = false): string {
    return this.writer.write(resource as Record<string, unknown>, pretty);
  }
}
