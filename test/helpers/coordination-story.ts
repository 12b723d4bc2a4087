/**
 * The coordination stories of fixtures/stories, replayed through the real
 * HTTP stack (app.inject) with each actor's development token, and the reads
 * a coordinator makes to check what Relais derived (the coordination Task,
 * its checklist, the alert Flags and messages of a stay).
 */
import type { Bundle, Communication, Flag, Resource, Task } from 'fhir/r4';
import { mintDevToken } from '../../scripts/mint-token.js';
import { loadStory, replayStory, stepHeaders, type StepResult, type StoryActor } from '../../scripts/story-replay.js';
import { devAuthEnv } from './authenticated-requests.js';
import type { TestServer } from './test-server.js';

export const CHECKLIST = 'https://relais-sante.fr/fhir/CodeSystem/relais-discharge-checklist';
export const COORDINATION_TASK = 'https://relais-sante.fr/fhir/sid/discharge-coordination-task';
export const ALERT = 'https://relais-sante.fr/fhir/sid/discharge-alert';
export const TASK_TYPE = 'https://relais-sante.fr/fhir/CodeSystem/relais-task-type';

export function storyFile(name: string): string {
  return new URL(`../../fixtures/stories/${name}`, import.meta.url).pathname;
}

export function fixturePath(name: string): string {
  return new URL(`../../fixtures/${name}`, import.meta.url).pathname;
}

/** A token for an actor of a story, signed by the test server's dev key. */
export function tokenFor(server: TestServer, actor: StoryActor): Promise<string> {
  return mintDevToken({ ...actor, ttlSeconds: 900 }, devAuthEnv(server.dataDir));
}

/** Replays a story file (all its steps, or up to and including `until`). */
export async function replay(server: TestServer, name: string, until?: string): Promise<Map<string, StepResult>> {
  const story = loadStory(storyFile(name));
  if (until) story.steps = story.steps.slice(0, story.steps.findIndex((s) => s.id === until) + 1);
  return replayStory(
    story,
    async (step, token) => {
      const response = await server.app.inject({ method: step.method, url: `/fhir/${step.path}`, headers: stepHeaders(step, token), ...(step.body !== undefined ? { payload: JSON.stringify(step.body) } : {}) });
      return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as unknown) : undefined };
    },
    (actor) => tokenFor(server, actor),
  );
}

/** Every current match of a search, as the server sees it (what a coordinator of the whole network sees). */
export async function all<T extends Resource>(server: TestServer, type: string, params: Array<[string, string]>): Promise<T[]> {
  const bundle = await server.ctx.engine.asServer('test setup').search(type, [...params, ['_count', '1000']]);
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
}

export interface Coordination {
  encounter: string;
  task: Task;
  checklist: Record<string, string | undefined>;
  flags: Record<string, Flag>;
  alerts: Communication[];
  nurseTasks: Task[];
}

/** What the coordination of one stay (by its hospital identifier) looks like now. */
export async function coordinationOf(server: TestServer, nda: string): Promise<Coordination> {
  const [stay] = await all(server, 'Encounter', [['identifier', `https://hopital-fictif.example.org/fhir/sid/nda|${nda}`]]);
  const encounter = `Encounter/${stay.id}`;
  const tasks = await all<Task>(server, 'Task', [['encounter', encounter]]);
  const task = tasks.find((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK))!;
  const checklist = Object.fromEntries((task.input ?? []).filter((i) => i.type.coding?.[0]?.system === CHECKLIST).map((i) => [i.type.coding![0].code!, i.valueCode]));
  const flags = Object.fromEntries((await all<Flag>(server, 'Flag', [['encounter', encounter]])).map((f) => [f.identifier![0].value!.split('-').slice(1).join('-'), f]));
  const alerts = await all<Communication>(server, 'Communication', [['encounter', encounter], ['category', 'https://relais-sante.fr/fhir/CodeSystem/relais-communication-category|alert']]);
  const nurseTasks = tasks.filter((t) => t.id !== task.id);
  return { encounter, task, checklist, flags, alerts, nurseTasks };
}

export function matches<T extends Resource>(body: unknown): T[] {
  return ((body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
}
