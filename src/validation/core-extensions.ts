/**
 * The R4 core extensions (patient-birthPlace, workflow-episodeOfCare...), held in a compact
 * form (definitions/r4-rules.json, `extensions`, derived by scripts/build-r4-rules.ts from their
 * StructureDefinitions): the types their value may take, and for complex ones their
 * sub-extensions with cardinalities. Where an extension may be used (its context) is checked by
 * the profile validator, which knows the element it sits on.
 */
import type { Issue } from '../errors.js';

export interface CoreExtension {
  context: Array<{ type: string; expression: string }>;
  /** Types value[x] may take; empty for a complex extension. */
  types: string[];
  /** Complex extensions: their sub-extensions by url. */
  children?: Record<string, { min: number; max: string; types: string[] }>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value (or the sub-extensions) of one use of a core extension against its definition. */
export function coreExtensionContentIssues(item: JsonObject, url: string, core: CoreExtension, expr: string): Issue[] {
  const issues: Issue[] = [];
  const checkValue = (holder: JsonObject, types: string[], at: string, name: string) => {
    // A primitive value may be given by its companion alone (`_valueString`: extensions, no value).
    const valueKey = Object.keys(holder).find((k) => k.startsWith('value')) ?? Object.keys(holder).find((k) => k.startsWith('_value'))?.slice(1);
    if (!valueKey) {
      if (types.length > 0 && !Array.isArray(holder.extension)) issues.push({ severity: 'error', code: 'required', diagnostics: `Extension ${name} needs a value (${types.join(', ')})`, expression: [at] });
      return;
    }
    const type = valueKey.slice('value'.length);
    if (!types.some((t) => t.toLowerCase() === type.toLowerCase())) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: types.length ? `Extension ${name} takes a value of type ${types.join(', ')}, not ${type}` : `Extension ${name} takes sub-extensions, not a value`, expression: [`${at}.value.ofType(${type})`] });
    }
  };
  if (!core.children) {
    checkValue(item, core.types, expr, url);
    return issues;
  }
  if (Object.keys(item).some((k) => k.startsWith('value'))) checkValue(item, [], expr, url);
  const subs = Array.isArray(item.extension) ? item.extension.filter(isObject) : [];
  const counts = new Map<string, number>();
  subs.forEach((sub, i) => {
    const subUrl = typeof sub.url === 'string' ? sub.url : '';
    const definition = core.children![subUrl];
    if (!definition) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: `Sub-extension '${subUrl}' is not defined by the extension ${url}`, expression: [`${expr}.extension[${i}]`] });
      return;
    }
    counts.set(subUrl, (counts.get(subUrl) ?? 0) + 1);
    checkValue(sub, definition.types, `${expr}.extension[${i}]`, `${url}#${subUrl}`);
  });
  for (const [subUrl, definition] of Object.entries(core.children)) {
    const count = counts.get(subUrl) ?? 0;
    if (count < definition.min) issues.push({ severity: 'error', code: 'required', diagnostics: `Extension ${url} needs its sub-extension '${subUrl}'`, expression: [expr] });
    if (definition.max !== '*' && count > Number(definition.max)) issues.push({ severity: 'error', code: 'structure', diagnostics: `Extension ${url} allows at most ${definition.max} '${subUrl}'`, expression: [expr] });
  }
  return issues;
}
