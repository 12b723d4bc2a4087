/**
 * Compressed request bodies (Content-Encoding: gzip, deflate, br), as sent by HAPI FHIR's
 * GZipContentInterceptor, which French hospital software uses for large transaction bundles.
 * Decoding is @fastify/compress's preParsing hook; Fastify's bodyLimit counts the DECODED bytes,
 * so a small compressed body that inflates beyond the limit gets 413, never unbounded memory.
 * Responses are not compressed here (left to the reverse proxy, as before).
 *
 * Must be registered (awaited) before the routes: the hook is attached per route as they are added.
 */
import fastifyCompress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

export async function installRequestDecompression(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCompress, {
    globalCompression: false,
    globalDecompression: true,
    onUnsupportedRequestEncoding: (encoding: string) => errors.unsupportedContentEncoding(encoding),
    // The plugin copies this error's own enumerable properties onto the zlib error (hence message
    // set by Object.assign, not the constructor); the error handler maps a 4xx statusCode to an OperationOutcome.
    onInvalidRequestPayload: (encoding: string) =>
      Object.assign(new Error(), { statusCode: 400, message: `The body is not valid ${encoding} data (Content-Encoding: ${encoding})` }),
  });
}
