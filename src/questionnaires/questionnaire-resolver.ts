/**
 * Finds the Questionnaire a QuestionnaireResponse answers
 * (QuestionnaireResponse.questionnaire, a canonical `url` or `url|version`):
 * first among the Questionnaires stored on the server (an administrator's
 * newer version, a partner's questionnaire), through the server's session,
 * the newest version when none is named; then among the network's
 * conformance resources (profiles/), which the server seeds at start.
 */
import type { Bundle, Questionnaire, Resource } from 'fhir/r4';
import type { ConformanceRegistry } from '../conformance/conformance-registry.js';
import type { EngineSession } from '../engine/engine-session.js';

export async function findQuestionnaire(server: EngineSession, registry: ConformanceRegistry | undefined, canonical: string): Promise<Questionnaire | undefined> {
  const [url, version] = canonical.split('|');
  const params: Array<[string, string]> = [['url', url], ...(version ? [['version', version] as [string, string]] : []), ['_sort', '-_lastUpdated'], ['_count', '50']];
  const bundle: Bundle<Resource> = await server.search('Questionnaire', params, { strict: true });
  const stored = (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Questionnaire);
  const newest = stored.sort((a, b) => (b.version ?? '').localeCompare(a.version ?? '', undefined, { numeric: true }))[0];
  if (newest) return newest;
  const known = registry?.get<Questionnaire>(url);
  return known && (!version || known.version === version) ? known : undefined;
}
