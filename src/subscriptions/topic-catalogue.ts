/**
 * The network's subscription topics. FHIR R4 has no SubscriptionTopic
 * resource; the Subscriptions R5 Backport IG ("Subscription Topics in R4")
 * represents one as a Basic resource (code fhir-types#SubscriptionTopic)
 * carrying the R5 elements as cross-version extensions, which is how they are
 * written in profiles/Basic-topic-*.json. This file reads them into the
 * R5 shape the matcher works with: resource triggers (type, interactions,
 * query criteria on previous/current, FHIRPath criteria), the filters a
 * subscription may use (canFilterBy) and the notification shape.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Basic, Extension } from 'fhir/r4';

const XVER = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
const RESOURCE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';

export type TriggerInteraction = 'create' | 'update' | 'delete';

export interface QueryCriteria {
  previous?: string;
  resultForCreate: 'test-passes' | 'test-fails';
  current?: string;
  resultForDelete: 'test-passes' | 'test-fails';
  requireBoth: boolean;
}

export interface ResourceTrigger {
  description?: string;
  resourceType: string;
  interactions: TriggerInteraction[];
  queryCriteria?: QueryCriteria;
  fhirPathCriteria?: string;
}

export interface TopicFilter {
  resourceType: string;
  filterParameter: string;
  description?: string;
}

export interface SubscriptionTopic {
  url: string;
  title?: string;
  status: string;
  triggers: ResourceTrigger[];
  canFilterBy: TopicFilter[];
  /** Per focus type, the _include values that notifications may carry (informative here). */
  includes: Record<string, string[]>;
}

function sub(extension: Extension, url: string): Extension[] {
  return (extension.extension ?? []).filter((e) => e.url === url);
}

function one(extension: Extension, url: string): Extension | undefined {
  return sub(extension, url)[0];
}

function typeOf(uri: string | undefined): string {
  if (!uri) throw new Error('a topic trigger or filter names no resource');
  return uri.startsWith(RESOURCE_PREFIX) ? uri.slice(RESOURCE_PREFIX.length) : uri;
}

/** Reads a Basic-wrapped SubscriptionTopic (Backport IG); throws on a malformed one (a packaging error, caught by tests). */
export function topicFromBasic(basic: Basic): SubscriptionTopic {
  const top = (name: string) => (basic.extension ?? []).filter((e) => e.url === XVER + name);
  const url = top('url')[0]?.valueUri;
  if (!url) throw new Error(`topic ${basic.id}: no url`);
  const triggers = top('resourceTrigger').map((t): ResourceTrigger => {
    const query = one(t, 'queryCriteria');
    return {
      ...(one(t, 'description')?.valueMarkdown ? { description: one(t, 'description')!.valueMarkdown } : {}),
      resourceType: typeOf(one(t, 'resource')?.valueUri),
      interactions: sub(t, 'supportedInteraction').map((e) => e.valueCode as TriggerInteraction),
      ...(query
        ? {
            queryCriteria: {
              ...(one(query, 'previous')?.valueString ? { previous: one(query, 'previous')!.valueString } : {}),
              ...(one(query, 'current')?.valueString ? { current: one(query, 'current')!.valueString } : {}),
              resultForCreate: (one(query, 'resultForCreate')?.valueCode ?? 'test-fails') as QueryCriteria['resultForCreate'],
              resultForDelete: (one(query, 'resultForDelete')?.valueCode ?? 'test-fails') as QueryCriteria['resultForDelete'],
              requireBoth: one(query, 'requireBoth')?.valueBoolean ?? false,
            },
          }
        : {}),
      ...(one(t, 'fhirPathCriteria')?.valueString ? { fhirPathCriteria: one(t, 'fhirPathCriteria')!.valueString } : {}),
    };
  });
  const canFilterBy = top('canFilterBy').map((f) => ({
    resourceType: typeOf(one(f, 'resource')?.valueUri),
    filterParameter: one(f, 'filterParameter')?.valueString ?? '',
    ...(one(f, 'description')?.valueMarkdown ? { description: one(f, 'description')!.valueMarkdown } : {}),
  }));
  const includes: Record<string, string[]> = {};
  for (const shape of top('notificationShape')) includes[typeOf(one(shape, 'resource')?.valueUri)] = sub(shape, 'include').map((e) => e.valueString ?? '');
  const status = (basic.modifierExtension ?? []).find((e) => e.url === XVER + 'status')?.valueCode ?? 'draft';
  return { url, ...(top('title')[0]?.valueString ? { title: top('title')[0].valueString } : {}), status, triggers, canFilterBy, includes };
}

/** The topics a deployment offers: profiles/Basic-topic-*.json, by canonical URL. */
export class TopicCatalogue {
  private readonly byUrl = new Map<string, SubscriptionTopic>();

  constructor(topics: SubscriptionTopic[]) {
    for (const topic of topics) this.byUrl.set(topic.url, topic);
  }

  static fromDirectory(directory: string): TopicCatalogue {
    const topics: SubscriptionTopic[] = [];
    for (const file of readdirSync(directory).sort()) {
      if (!/^Basic-topic-.+\.json$/.test(file)) continue;
      topics.push(topicFromBasic(JSON.parse(readFileSync(join(directory, file), 'utf8')) as Basic));
    }
    return new TopicCatalogue(topics);
  }

  /** A topic by canonical (a `|version` suffix is ignored: one version of each is offered). */
  get(canonical: string): SubscriptionTopic | undefined {
    return this.byUrl.get(canonical.split('|')[0]);
  }

  all(): SubscriptionTopic[] {
    return [...this.byUrl.values()];
  }
}
