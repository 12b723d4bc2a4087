/**
 * The baseline of scripts/bench-http.ts: a bare Fastify server answering
 * GET /fhir/Patient/:id with a Patient held in the data folder's store, read
 * once at start and kept as serialised JSON — the framework's ceiling for a
 * read, with no engine, no store access and no serialisation per request.
 * Started by the benchmark as its own process (DATA_DIR, PORT given).
 */
import Fastify from 'fastify';
import { loadConfig } from '../src/config.js';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const store = new EmbeddedStore({ directory: config.DATA_DIR });
await store.open();
const patients = new Map<string, { json: string; versionId: number; lastUpdated: string }>();
const { versions } = await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 1_000_000, withTotal: false });
for (const version of versions) patients.set(version.id, { json: JSON.stringify(version.resource), versionId: version.versionId, lastUpdated: version.lastUpdated });
await store.close();

const app = Fastify({ logger: false });
app.get<{ Params: { id: string } }>('/fhir/Patient/:id', async (request, reply) => {
  const patient = patients.get(request.params.id);
  if (!patient) return reply.code(404).send();
  reply.header('ETag', `W/"${patient.versionId}"`).header('Last-Modified', new Date(patient.lastUpdated).toUTCString());
  return reply.type('application/fhir+json; charset=utf-8').send(patient.json);
});
await app.listen({ port: config.PORT, host: '127.0.0.1' });
process.stdout.write(`Server listening at http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
