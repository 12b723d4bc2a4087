/**
 * Turns the JSON Schema errors of the configuration (env-schema's ajv errors)
 * into one line an operator can act on: the variable, the value given (unless
 * it is a secret), and what the variable accepts: an enum's allowed values,
 * a bound, or a pattern described in words.
 */

/** The fields of an ajv error that matter here. */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface ConfigErrorWords {
  /** What a pattern-checked variable accepts, in words. */
  accepts: Record<string, string>;
  /** Variables whose value must not be repeated (URIs with passwords, tokens). */
  secrets: Set<string>;
}

function expectation(error: SchemaError, variable: string, words: ConfigErrorWords): string {
  const params = error.params;
  switch (error.keyword) {
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'type':
      return params.type === 'boolean' ? 'must be true or false' : `must be ${params.type === 'integer' ? 'an integer' : `a ${String(params.type)}`}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${String(params.comparison)} ${String(params.limit)}`;
    case 'minLength':
      return `must be at least ${String(params.limit)} characters long`;
    case 'pattern':
      return `must be ${words.accepts[variable] ?? `of the form ${String(params.pattern)}`}`;
    default:
      return error.message ?? 'is invalid';
  }
}

export function describeConfigErrors(errors: SchemaError[], env: NodeJS.ProcessEnv, words: ConfigErrorWords): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const error of errors) {
    const variable = error.instancePath.replace(/^\//, '');
    // ajv reports a failing type once per keyword; one explanation per variable is enough.
    if (!variable || seen.has(variable)) continue;
    seen.add(variable);
    const value = env[variable];
    const given = value === undefined || words.secrets.has(variable) ? '' : ` (got "${value}")`;
    parts.push(`${variable} ${expectation(error, variable, words)}${given}`);
  }
  return parts.length > 0 ? parts.join('; ') : errors.map((e) => e.message).join('; ');
}
