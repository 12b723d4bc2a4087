/**
 * The rules of the R4 Bundle page (bundle.html) beyond the bdl-* invariants, as the HL7
 * validator applies them:
 *  - every entry holding a resource has a fullUrl, except in transactions and batches
 *    (bundle.html: "fullUrl ... SHALL be present except for ... transaction and batch");
 *  - a fullUrl is absolute (a URL or urn:uuid / urn:oid), and one that looks like a RESTful
 *    URL (`[base]/Type/id`) ends with the entry's resource type and id;
 *  - in documents and messages, every literal reference inside the entries resolves to an
 *    entry of the Bundle, following "Resolving references in Bundles": an absolute reference
 *    is a fullUrl; a relative one (`Type/id`) is resolved against the base of the referring
 *    entry's RESTful fullUrl (with a urn: fullUrl it cannot be resolved).
 */
import type { Issue } from '../errors.js';

type Json = Record<string, unknown>;

const RESTFUL = /^(https?:\/\/.+\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** Bundle types whose references must all resolve inside the Bundle. */
const SELF_CONTAINED = new Set(['document', 'message']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every Reference.reference inside a resource (contained resources included), with its FHIRPath location. */
function references(value: unknown, at: string, out: Array<{ reference: string; at: string }>): void {
  if (Array.isArray(value)) value.forEach((item, i) => references(item, `${at}[${i}]`, out));
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') out.push({ reference: child, at: `${at}.reference` });
      else if (isObject(child) || Array.isArray(child)) references(child, `${at}.${key}`, out);
    }
  }
}

export function bundleIssues(bundle: Json, isResourceType: (type: string) => boolean): Issue[] {
  const issues: Issue[] = [];
  const type = typeof bundle.type === 'string' ? bundle.type : '';
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const fullUrls = new Set<string>();
  entries.forEach((entry) => {
    if (isObject(entry) && typeof entry.fullUrl === 'string') fullUrls.add(entry.fullUrl);
  });
  entries.forEach((entry, i) => {
    if (!isObject(entry)) return;
    const at = `Bundle.entry[${i}]`;
    const resource = isObject(entry.resource) ? entry.resource : undefined;
    const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
    if (resource && !fullUrl && type !== 'transaction' && type !== 'batch') {
      issues.push({ severity: 'error', code: 'required', diagnostics: 'Except in transactions and batches, an entry holding a resource needs a fullUrl (its identity)', expression: [at] });
    }
    if (fullUrl !== undefined) {
      if (!ABSOLUTE.test(fullUrl)) {
        issues.push({ severity: 'error', code: 'value', diagnostics: `The fullUrl '${fullUrl}' must be absolute (a URL, urn:uuid: or urn:oid:)`, expression: [`${at}.fullUrl`] });
      } else {
        const restful = RESTFUL.exec(fullUrl);
        if (restful && resource && isResourceType(restful[2]) && (restful[2] !== resource.resourceType || (typeof resource.id === 'string' && restful[3] !== resource.id))) {
          issues.push({ severity: 'error', code: 'value', diagnostics: `The fullUrl '${fullUrl}' looks like a RESTful URL, so it must end with the entry's resource type and id (${String(resource.resourceType)}/${String(resource.id ?? '')})`, expression: [`${at}.fullUrl`] });
        }
      }
    }
    if (!resource || !SELF_CONTAINED.has(type)) return;
    const found: Array<{ reference: string; at: string }> = [];
    references(resource, `${at}.resource`, found);
    const base = fullUrl ? RESTFUL.exec(fullUrl)?.[1] : undefined;
    for (const { reference, at: where } of found) {
      if (reference.startsWith('#')) continue;
      let target: string | undefined = reference;
      if (!ABSOLUTE.test(reference)) {
        const relative = RELATIVE.exec(reference);
        if (!relative) continue; // conditional references and the like: not a literal reference
        target = base ? `${base}${relative[1]}/${relative[2]}` : undefined;
      }
      const resolves = target !== undefined && (fullUrls.has(target) || fullUrls.has(target.replace(/\/_history\/[^/]+$/, '')));
      if (!resolves) {
        issues.push({
          severity: 'error',
          code: 'not-found',
          diagnostics: `The reference '${reference}' does not resolve to an entry of this ${type} Bundle (R4 bundle.html, resolving references in Bundles: all references of a ${type} are inside it)`,
          expression: [where],
        });
      }
    }
  });
  return issues;
}
