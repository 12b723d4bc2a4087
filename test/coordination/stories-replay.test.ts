/**
 * Every story of fixtures/stories replays from start to end on a fresh
 * server, each step answering the status it expects, with each actor's own
 * token (scripts/story-replay.ts does the same against a running Relais).
 * Stories whose outcome no other suite reads are checked here too.
 */
import type { Bundle, Communication, EpisodeOfCare, OperationOutcome, RiskAssessment } from 'fhir/r4';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StepResult } from '../../scripts/story-replay.js';
import { matches, replay } from '../helpers/coordination-story.js';
import { startTestServer } from '../helpers/test-server.js';

const STORIES = readdirSync(new URL('../../fixtures/stories/', import.meta.url)).filter((f) => f.endsWith('.json')).sort();

/** What a story leaves behind, read from its steps' answers. */
const OUTCOMES: Record<string, (results: Map<string, StepResult>) => void> = {
  '04-evaluation-risk-case-management.json': (results) => {
    const body = (id: string) => results.get(id)!.body;
    // Refused for what it answers, not for its form.
    const problems = (body('evaluation-refused') as OperationOutcome).issue.map((i) => i.diagnostics).join('\n');
    expect(problems).toContain("linkId 'mood' is not an item");
    for (const required of ['health', 'autonomy', 'social']) expect(problems).toContain(`'${required}'`);
    const [risk] = matches<RiskAssessment>(body('risks-in-force'));
    expect(risk.prediction![0].outcome!.text).toBe('Chute à domicile la nuit, seule');
    expect(risk.basis![0].reference).toMatch(/^Appointment\//);
    // The request reaches the cell and the nurse, as the same message.
    const [toCell] = matches<Communication>(body('cell-inbox'));
    expect(toCell.priority).toBe('urgent');
    expect(matches<Communication>(body('claire-inbox')).map((m) => m.id)).toEqual([toCell.id]);
    const [episode] = matches<EpisodeOfCare>(body('episode') as Bundle);
    expect(episode.status).toBe('active');
    expect(episode.careManager!.reference).toBe('PractitionerRole/role-case-manager-dac');
  },
};

describe('coordination stories', () => {
  it.each(STORIES)('%s replays step by step', async (name) => {
    const server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
    try {
      const results = await replay(server, name);
      expect([...results.values()].every((r) => r.status === r.step.expect)).toBe(true);
      OUTCOMES[name]?.(results);
    } finally {
      await server.close();
    }
  });
});
