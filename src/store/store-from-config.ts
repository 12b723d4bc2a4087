/**
 * Chooses the store a Relais process uses: MongoDB when MONGODB_URI is set
 * (the production store, shareable by several processes), otherwise the
 * embedded LMDB store in DATA_DIR (one process, first run, small sites).
 */
import { resolve } from 'node:path';
import pino from 'pino';
import type { W } from 'mongodb';
import type { RelaisConfig } from '../config.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import { MongoStore } from './mongo/mongo-store.js';
import type { ResourceStore } from './resource-store.js';

/** `changeCountedTypes`: the types whose writes MongoDB counts for changeStamp (the embedded store counts every type). */
export function storeFromConfig(config: RelaisConfig, changeCountedTypes: readonly string[] = []): ResourceStore {
  const resultSets = { idleMs: config.SEARCH_RESULT_SET_IDLE_SECONDS * 1000, maxSets: config.SEARCH_RESULT_SETS_MAX };
  if (!config.MONGODB_URI) {
    return new EmbeddedStore({
      directory: resolve(config.DATA_DIR),
      resultSets,
      // Storage faults and the migration of an old journal folder are logged (never resources).
      log: pino({ level: config.LOG_LEVEL, base: { component: 'store' } }),
    });
  }
  const w: W = /^[0-9]+$/.test(config.MONGODB_WRITE_CONCERN) ? Number(config.MONGODB_WRITE_CONCERN) : 'majority';
  return new MongoStore({
    uri: config.MONGODB_URI,
    ...(config.MONGODB_DATABASE ? { database: config.MONGODB_DATABASE } : {}),
    writeConcern: { w, journal: config.MONGODB_JOURNAL, wtimeoutMS: config.MONGODB_WTIMEOUT_MS },
    readConcern: config.MONGODB_READ_CONCERN,
    transactions: config.MONGODB_TRANSACTIONS,
    resultSets,
    changeCountedTypes,
    // The store logs what the deployment guarantees once, at start (never resources).
    log: pino({ level: config.LOG_LEVEL, base: { component: 'store' } }),
  });
}
