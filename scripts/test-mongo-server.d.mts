/** Types of scripts/test-mongo-server.mjs (a plain Node script so that it runs without a build). */
export interface TestMongoServer {
  /** mongodb://127.0.0.1:<port>/?directConnection=true */
  uri: string;
  pid: number | undefined;
  stop(): Promise<void>;
}
export function ensureInstalled(options?: { quiet?: boolean }): string;
export function startTestMongo(options?: { detached?: boolean; timeoutMs?: number; port?: number }): Promise<TestMongoServer>;
