/**
 * Replays a coordination story (fixtures/stories/*.json): the requests each
 * actor sends, in order, each with its own token — the hospital's transaction
 * announcing a discharge, its follow-up pushes, a nurse's answers, the
 * coordination cell's worklists — so the whole story of a discharge can be
 * run again against any Relais.
 *
 *   npx tsx scripts/story-replay.ts fixtures/stories/01-friday-evening-discharge.json \
 *     --base http://localhost:8080/fhir      # the server's DATA_DIR signs the dev tokens (AUTH_MODE=dev)
 *
 * A story is { title, description, steps: [{ id, actor, method, path, body | bodyFile, expect, note }] };
 * `actor` is what `npm run token` takes (role, rpps, finess, client, sub); `path` is relative to the FHIR
 * base ("" for a Bundle posted to the base); `bodyFile` is relative to the story file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mintDevToken, type MintOptions } from './mint-token.js';

export interface StoryActor {
  role: string;
  rpps?: string;
  finess?: string;
  client?: string;
  sub?: string;
}

export interface StoryStep {
  id: string;
  actor: StoryActor;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  bodyFile?: string;
  /** The status the step should answer. */
  expect: number;
  note?: string;
}

export interface Story {
  title: string;
  description: string;
  steps: StoryStep[];
}

export interface StepResult {
  step: StoryStep;
  status: number;
  body: unknown;
}

/** Reads a story and the bodies its steps name (bodyFile is resolved against the story's folder). */
export function loadStory(file: string): Story {
  const story = JSON.parse(readFileSync(file, 'utf8')) as Story;
  for (const step of story.steps) {
    if (step.bodyFile) step.body = JSON.parse(readFileSync(resolve(dirname(file), step.bodyFile), 'utf8'));
  }
  return story;
}

export type Send = (step: StoryStep, token: string) => Promise<{ status: number; body: unknown }>;

/** Runs the steps in order, one token per actor; stops at the first step that does not answer what it expects. */
export async function replayStory(story: Story, send: Send, token: (actor: StoryActor) => Promise<string>): Promise<Map<string, StepResult>> {
  const tokens = new Map<string, Promise<string>>();
  const results = new Map<string, StepResult>();
  for (const step of story.steps) {
    const key = JSON.stringify(step.actor);
    if (!tokens.has(key)) tokens.set(key, token(step.actor));
    const { status, body } = await send(step, await tokens.get(key)!);
    results.set(step.id, { step, status, body });
    if (status !== step.expect) {
      throw new Error(`step '${step.id}' (${step.method} ${step.path || '/'}) answered ${status}, expected ${step.expect}: ${JSON.stringify(body).slice(0, 500)}`);
    }
  }
  return results;
}

/** The headers a step's request carries. */
export function stepHeaders(step: StoryStep, token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/fhir+json',
    ...(step.body !== undefined ? { 'content-type': step.method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json' } : {}),
  };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { base: { type: 'string', default: 'http://localhost:8080/fhir' } } });
  const base = values.base!.replace(/\/$/, '');
  const run = async () => {
    for (const file of positionals) {
      const story = loadStory(file);
      process.stdout.write(`# ${story.title}\n`);
      const results = await replayStory(
        story,
        async (step, token) => {
          const response = await fetch(`${base}/${step.path}`, { method: step.method, headers: stepHeaders(step, token), ...(step.body !== undefined ? { body: JSON.stringify(step.body) } : {}) });
          const text = await response.text();
          return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        },
        (actor) => mintDevToken({ ...(actor as MintOptions), ttlSeconds: 3600 }),
      );
      for (const { step, status } of results.values()) process.stdout.write(`${status} ${step.id}: ${step.method} ${step.path || '/'}${step.note ? ` — ${step.note}` : ''}\n`);
    }
  };
  run().catch((error: Error) => {
    process.stderr.write(`story-replay: ${error.message}\n`);
    process.exit(1);
  });
}
