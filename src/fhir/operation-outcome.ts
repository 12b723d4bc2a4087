/** Turns issues into an OperationOutcome resource. */
import type { OperationOutcome } from 'fhir/r4';
import type { Issue } from '../errors.js';

const SEVERITY_RANK: Record<string, number> = { fatal: 0, error: 1, warning: 2, information: 3 };

/**
 * Issues most severe first (fatal, error, warning, information), the order kept within a
 * severity: clients show the first issue, which must not be a warning beside an error.
 */
export function bySeverity<T extends { severity: string }>(issues: T[]): T[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => (SEVERITY_RANK[a.issue.severity] ?? 4) - (SEVERITY_RANK[b.issue.severity] ?? 4) || a.index - b.index)
    .map((x) => x.issue);
}

export function operationOutcome(issues: Issue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: bySeverity(issues).map((i) => ({
      severity: i.severity,
      code: i.code,
      diagnostics: i.diagnostics,
      ...(i.expression ? { expression: i.expression } : {}),
    })),
  };
}

export function informational(diagnostics: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]);
}
