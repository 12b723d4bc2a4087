/**
 * Differential test against the HL7 Java validator, without Java: the corpus of
 * corpus.ts (the official R4 examples and systematically mutated invalid variants)
 * is validated in-process and each verdict (valid / invalid) is compared with the
 * one the reference recorded in hl7-verdicts.json (scripts/validation-differential.ts
 * --record). The verdicts must agree on at least 98 % of the cases, and every
 * remaining disagreement must be one of those listed and explained in
 * known-disagreements.json (also in docs/validation.md): a new disagreement, or a listed
 * one that no longer happens, fails the test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareWithReference } from './compare.js';

const known = JSON.parse(readFileSync(join(import.meta.dirname, 'known-disagreements.json'), 'utf8')) as Record<string, string>;

describe('differential test against the HL7 Java validator', () => {
  const result = compareWithReference();

  it('replays the recorded corpus exactly (no stale case), over at least 1,000 resources', () => {
    expect(result.stale).toEqual([]);
    expect(result.total).toBeGreaterThanOrEqual(1000);
  });

  it('agrees with the reference on the valid/invalid verdict of at least 98 % of the resources', () => {
    expect(result.agreeing / result.total).toBeGreaterThanOrEqual(0.98);
  });

  it('every disagreement is listed and explained in known-disagreements.json, and every listed one still happens', () => {
    const found = result.disagreements.map((d) => `${d.id} (reference ${d.reference}, Relais ${d.relais}): ${d.relaisErrors[0] ?? d.referenceErrors[0] ?? ''}`);
    expect(found.filter((line) => !(line.split(' (')[0] in known))).toEqual([]);
    const happening = new Set(result.disagreements.map((d) => d.id));
    expect(Object.keys(known).filter((id) => !happening.has(id))).toEqual([]);
  });
});
