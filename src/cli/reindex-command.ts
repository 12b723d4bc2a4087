/**
 * `relais reindex`: recomputes the search index entries of every current
 * resource (or of the given types) with the SearchParameters known now: the R4
 * base ones plus the network's own from profiles/. Run it after adding or
 * changing a SearchParameter, with the server STOPPED for the embedded store
 * (it holds a lock on DATA_DIR); with MongoDB it can run beside the servers.
 *
 *   relais reindex                       # every type
 *   relais reindex Patient Encounter     # only these types
 *
 * It reads the same environment as the server (DATA_DIR, store settings). No
 * version is created and no resource changes: only the index entries of the
 * current version are replaced, through the store port directly (like the
 * store's own start-up, below the engine: there is no caller and nothing to
 * decide access about). A resource written meanwhile (newer version) is
 * skipped because its own write indexed it already.
 */
import type { IndexUpdate } from '../store/resource-store.js';
import { commandContext, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';

const PAGE = 500;

export const reindexCommand: CliCommand = {
  summary: 'recompute the search index of stored resources (after adding a SearchParameter)',
  async run(args, env) {
    const ctx = commandContext('reindex', env);
    if (typeof ctx === 'number') return ctx;
    const { extractor, definitions } = ctx.engine.facts;
    const requested = args.filter((a) => a !== '--');
    for (const type of requested) {
      if (!definitions.isResourceType(type)) {
        process.stderr.write(`reindex: '${type}' is not an R4 resource type\n`);
        return EXIT_USAGE;
      }
    }
    const types = requested.length > 0 ? requested : [...definitions.resourceTypes];
    try {
      await ctx.store.open();
    } catch (error) {
      process.stderr.write(`reindex: the store could not be opened: ${(error as Error).message}\n`);
      return EXIT_FAILED;
    }
    let seen = 0;
    let applied = 0;
    const started = Date.now();
    try {
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
    } finally {
      await ctx.store.close();
    }
    process.stdout.write(
      `reindex: ${applied} of ${seen} current resources reindexed in ${((Date.now() - started) / 1000).toFixed(1)} s (${seen - applied} changed meanwhile and were skipped)\n`,
    );
    return EXIT_OK;
  },
};
