/**
 * UCUM canonical forms (R4 search page, quantity: a server may search in
 * canonical units, so 5.4 mg finds 5400 ug). Uses the LHC UCUM library (the
 * one fhirpath.js itself relies on); results are cached because the same few
 * units recur millions of times.
 */
import ucum from '@lhncbc/ucum-lhc';

export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

const utils = ucum.UcumLhcUtils.getInstance();
const cache = new Map<string, { factor: number; offset: number; key: string } | null>();

/**
 * The canonical unit key ("g.m-2") and a linear conversion value→canonical,
 * or null when the code is not valid UCUM. Special (non-linear offset) units
 * such as Cel are converted exactly via two probes.
 */
function conversionOf(code: string): { factor: number; offset: number; key: string } | null {
  const cached = cache.get(code);
  if (cached !== undefined) return cached;
  let result: { factor: number; offset: number; key: string } | null = null;
  try {
    const zero = utils.convertToBaseUnits(code, 0);
    const one = utils.convertToBaseUnits(code, 1);
    if (zero.status === 'succeeded' && one.status === 'succeeded' && zero.unitToExp) {
      const key = Object.entries(zero.unitToExp as Record<string, number>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([unit, exp]) => (exp === 1 ? unit : `${unit}${exp}`))
        .join('.');
      result = { factor: (one.magnitude as number) - (zero.magnitude as number), offset: zero.magnitude as number, key: key || '1' };
    }
  } catch {
    result = null;
  }
  cache.set(code, result);
  return result;
}

/** Canonical value and unit key for a UCUM code, or undefined. */
export function toCanonical(value: number, code: string): { value: number; key: string } | undefined {
  const conversion = conversionOf(code);
  if (!conversion) return undefined;
  return { value: value * conversion.factor + conversion.offset, key: conversion.key };
}

/** Converts a value between two commensurable UCUM units (used for `near` distances). */
export function convertUnits(value: number, from: string, to: string): number | undefined {
  const a = conversionOf(from);
  const b = conversionOf(to);
  if (!a || !b || a.key !== b.key) return undefined;
  return (value * a.factor + a.offset - b.offset) / b.factor;
}
