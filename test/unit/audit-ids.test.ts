/** AuditEvent ids (src/audit/audit-ids.ts): RFC 9562 version 7 UUIDs that increase, so the stores append them. */
import { describe, expect, it } from 'vitest';
import { TimeOrderedIds } from '../../src/audit/audit-ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('time-ordered AuditEvent ids', () => {
  it('are version 7 UUIDs (a valid FHIR id) carrying the time in their first 48 bits', () => {
    const ids = new TimeOrderedIds(() => Date.UTC(2026, 11, 7, 4, 0, 0));
    const id = ids.next();
    expect(id).toMatch(V7);
    expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2026, 11, 7, 4, 0, 0));
  });

  it('increase within a millisecond, past the 4,096 of its counter, and when the clock steps back', () => {
    let now = 1_800_000_000_000;
    const ids = new TimeOrderedIds(() => now);
    const made: string[] = [];
    for (let i = 0; i < 10_000; i++) made.push(ids.next());
    now -= 5_000; // the clock set back
    for (let i = 0; i < 100; i++) made.push(ids.next());
    now += 60_000;
    made.push(ids.next());
    for (let i = 1; i < made.length; i++) expect(made[i] > made[i - 1], `${made[i - 1]} < ${made[i]}`).toBe(true);
    expect(new Set(made).size).toBe(made.length);
    for (const id of made) expect(id).toMatch(V7);
  });
});
