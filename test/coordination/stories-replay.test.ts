/**
 * Every story of fixtures/stories replays from start to end on a fresh
 * server, each step answering the status it expects, with each actor's own
 * token (scripts/story-replay.ts does the same against a running Relais).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replay } from '../helpers/coordination-story.js';
import { startTestServer } from '../helpers/test-server.js';

const STORIES = readdirSync(new URL('../../fixtures/stories/', import.meta.url)).filter((f) => f.endsWith('.json')).sort();

describe('coordination stories', () => {
  it.each(STORIES)('%s replays step by step', async (name) => {
    const server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
    try {
      const results = await replay(server, name);
      expect([...results.values()].every((r) => r.status === r.step.expect)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
