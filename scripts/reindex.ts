/**
 * Recomputes the search index entries of every current resource (or of the
 * given types) with the SearchParameters known now: the R4 base ones plus the
 * network's own from profiles/. Run it after adding or changing a
 * SearchParameter, with the server STOPPED for the embedded store (it holds a
 * lock on DATA_DIR); with MongoDB it can run beside the servers.
 *
 *   npm run reindex                      # every type
 *   npm run reindex -- Patient Encounter # only these types
 *
 * It reads the same environment as the server (DATA_DIR, store settings).
 * No version is created: only the index entries of the current version are
 * replaced, and a resource written meanwhile (newer version) is skipped because
 * its own write indexed it already.
 */
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { IndexUpdate } from '../src/store/resource-store.js';

const PAGE = 500;

const config = loadConfig();
const ctx = buildContext(config);
const { extractor, definitions } = ctx.engine.facts;
const requested = process.argv.slice(2).filter((a) => a !== '--');
for (const type of requested) {
  if (!definitions.isResourceType(type)) {
    console.error(`reindex: '${type}' is not an R4 resource type`);
    process.exit(2);
  }
}
const types = requested.length > 0 ? requested : [...definitions.resourceTypes];

await ctx.store.open();
let seen = 0;
let applied = 0;
const started = Date.now();
for (const resourceType of types) {
  // Keyset walk on id: stable whatever is written meanwhile, and cheap on any store.
  let after: string | undefined;
  for (;;) {
    const { versions } = await ctx.store.search({
      resourceTypes: [resourceType],
      filter: after === undefined ? {} : { id: { $gt: after } },
      sort: [{ path: 'id', direction: 1 }],
      offset: 0,
      count: PAGE,
      withTotal: false,
    });
    if (versions.length === 0) break;
    const updates: IndexUpdate[] = versions
      .filter((v) => v.resource)
      .map((v) => ({ resourceType, id: v.id, versionId: v.versionId, index: extractor.extract(v.resource!) }));
    applied += await ctx.store.reindex(updates);
    seen += versions.length;
    after = versions.at(-1)!.id;
    if (versions.length < PAGE) break;
  }
}
await ctx.store.close();
console.log(`reindex: ${applied} of ${seen} current resources reindexed in ${((Date.now() - started) / 1000).toFixed(1)} s (${seen - applied} changed meanwhile and were skipped)`);
