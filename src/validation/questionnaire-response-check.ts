/**
 * A QuestionnaireResponse checked against its Questionnaire (R4
 * QuestionnaireResponse, "Questionnaire answers" and the Questionnaire item
 * rules): every linkId is an item of the Questionnaire at that place; a
 * group or display item carries no answer, a question no sub-items unless
 * the Questionnaire nests some; an answer has the value type its item's type
 * asks (boolean → valueBoolean, choice → valueCoding...) and, with
 * answerOption, is one of the options; an item that does not repeat is
 * answered once and appears once; an item disabled by its enableWhen is not
 * answered; and, once the response is completed (or amended), every required
 * item that is enabled is there with an answer (a required group with its
 * items). Pure: the caller finds the Questionnaire.
 *
 * Hand-written: no maintained JavaScript validator of Questionnaire answers
 * was found among the libraries this server uses (fhirpath evaluates
 * expressions, not questionnaire semantics).
 */
import type { Coding, Questionnaire, QuestionnaireItem, QuestionnaireItemEnableWhen, QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer } from 'fhir/r4';
import type { Issue } from '../errors.js';

/** The answer value[x] each item type takes (R4 Questionnaire.item.type). */
const VALUE_OF_TYPE: Record<string, readonly string[]> = {
  boolean: ['valueBoolean'],
  decimal: ['valueDecimal'],
  integer: ['valueInteger'],
  date: ['valueDate'],
  dateTime: ['valueDateTime'],
  time: ['valueTime'],
  string: ['valueString'],
  text: ['valueString'],
  url: ['valueUri'],
  choice: ['valueCoding'],
  'open-choice': ['valueCoding', 'valueString'],
  attachment: ['valueAttachment'],
  reference: ['valueReference'],
  quantity: ['valueQuantity'],
};
const ANSWER_VALUES = ['valueBoolean', 'valueDecimal', 'valueInteger', 'valueDate', 'valueDateTime', 'valueTime', 'valueString', 'valueUri', 'valueAttachment', 'valueCoding', 'valueQuantity', 'valueReference'];

type Answer = QuestionnaireResponseItemAnswer & Record<string, unknown>;

function answerValue(answer: QuestionnaireResponseItemAnswer): { key: string; value: unknown } | undefined {
  const key = ANSWER_VALUES.find((k) => (answer as Answer)[k] !== undefined);
  return key ? { key, value: (answer as Answer)[key] } : undefined;
}

/** Every answer given anywhere in the response, by linkId (enableWhen questions). */
function answersByLinkId(items: QuestionnaireResponseItem[] | undefined, into = new Map<string, QuestionnaireResponseItemAnswer[]>()): Map<string, QuestionnaireResponseItemAnswer[]> {
  for (const item of items ?? []) {
    into.set(item.linkId, [...(into.get(item.linkId) ?? []), ...(item.answer ?? [])]);
    answersByLinkId(item.item, into);
    for (const answer of item.answer ?? []) answersByLinkId(answer.item, into);
  }
  return into;
}

function sameCoding(a: Coding | undefined, b: Coding | undefined): boolean {
  return !!a && !!b && a.code === b.code && (a.system ?? '') === (b.system ?? '');
}

function compare(actual: unknown, expected: unknown): number | undefined {
  if (typeof actual === 'number' && typeof expected === 'number') return actual - expected;
  if (typeof actual === 'string' && typeof expected === 'string') return actual < expected ? -1 : actual > expected ? 1 : 0;
  return undefined;
}

/** One enableWhen condition (R4 Questionnaire.item.enableWhen) against the answers given. */
function conditionHolds(condition: QuestionnaireItemEnableWhen, answers: Map<string, QuestionnaireResponseItemAnswer[]>): boolean {
  const given = (answers.get(condition.question) ?? []).map(answerValue).filter((v): v is { key: string; value: unknown } => v !== undefined);
  if (condition.operator === 'exists') return (given.length > 0) === condition.answerBoolean;
  const expectedKey = Object.keys(condition).find((k) => k.startsWith('answer'));
  const expected = expectedKey ? (condition as unknown as Record<string, unknown>)[expectedKey] : undefined;
  const matches = given.some(({ value }) => {
    if (expectedKey === 'answerCoding') return sameCoding(value as Coding, expected as Coding);
    if (condition.operator === '=' || condition.operator === '!=') {
      const equal = JSON.stringify(value) === JSON.stringify(expected);
      return condition.operator === '=' ? equal : !equal;
    }
    const order = compare(value, expected);
    if (order === undefined) return false;
    return condition.operator === '>' ? order > 0 : condition.operator === '<' ? order < 0 : condition.operator === '>=' ? order >= 0 : order <= 0;
  });
  // "!=" with no answer at all: R4 treats a missing answer as not equal.
  return condition.operator === '!=' && given.length === 0 ? true : matches;
}

export function isEnabled(item: QuestionnaireItem, answers: Map<string, QuestionnaireResponseItemAnswer[]>): boolean {
  if (!item.enableWhen || item.enableWhen.length === 0) return true;
  const results = item.enableWhen.map((c) => conditionHolds(c, answers));
  return item.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
}

function optionMatches(item: QuestionnaireItem, value: { key: string; value: unknown }): boolean {
  return (item.answerOption ?? []).some((option) => {
    const key = Object.keys(option).find((k) => k.startsWith('value'));
    if (!key) return false;
    const expected = (option as unknown as Record<string, unknown>)[key];
    if (key === 'valueCoding') return value.key === 'valueCoding' && sameCoding(value.value as Coding, expected as Coding);
    return key === value.key && JSON.stringify(expected) === JSON.stringify(value.value);
  });
}

export function checkQuestionnaireAnswers(response: QuestionnaireResponse, questionnaire: Questionnaire): Issue[] {
  const issues: Issue[] = [];
  const answers = answersByLinkId(response.item);
  const complete = response.status === 'completed' || response.status === 'amended';
  const error = (diagnostics: string, expression: string, code: Issue['code'] = 'invalid') => issues.push({ severity: 'error', code, diagnostics, expression: [expression] });

  const walk = (defined: QuestionnaireItem[] | undefined, given: QuestionnaireResponseItem[] | undefined, path: string) => {
    const definitions = defined ?? [];
    (given ?? []).forEach((item, i) => {
      const at = `${path}.item[${i}]`;
      const definition = definitions.find((d) => d.linkId === item.linkId);
      if (!definition) {
        error(`linkId '${item.linkId}' is not an item of ${questionnaire.url ?? 'the Questionnaire'} here`, `${at}.linkId`);
        return;
      }
      const enabled = isEnabled(definition, answers);
      if (!enabled && ((item.answer ?? []).length > 0 || (item.item ?? []).length > 0)) {
        error(`'${item.linkId}' is answered although its enableWhen conditions do not hold`, at, 'business-rule');
      }
      if (definition.type === 'group' || definition.type === 'display') {
        if ((item.answer ?? []).length > 0) error(`'${item.linkId}' is a ${definition.type}: it takes no answer`, `${at}.answer`);
        if (definition.type === 'group') walk(definition.item, item.item, at);
        return;
      }
      if ((item.item ?? []).length > 0) walk(definition.item, item.item, at);
      const answersGiven = item.answer ?? [];
      if (!definition.repeats && answersGiven.length > 1) error(`'${item.linkId}' does not repeat: one answer only`, `${at}.answer`);
      answersGiven.forEach((answer, j) => {
        const where = `${at}.answer[${j}]`;
        const value = answerValue(answer);
        // A choice answers with a Coding, or with the type of its options (R4 answerOption value[x]).
        const optionTypes = (definition.answerOption ?? []).map((o) => Object.keys(o).find((k) => k.startsWith('value'))).filter((k): k is string => !!k);
        const allowed = definition.type === 'choice' || definition.type === 'open-choice' ? [...new Set([...(VALUE_OF_TYPE[definition.type] ?? []), ...optionTypes])] : (VALUE_OF_TYPE[definition.type] ?? []);
        if (!value) {
          error(`'${item.linkId}' has an answer without a value`, where, 'required');
        } else if (!allowed.includes(value.key)) {
          error(`'${item.linkId}' is of type ${definition.type}: its answer is ${allowed.join(' or ')}, not ${value.key}`, `${where}.${value.key}`);
        } else if (definition.answerOption && definition.answerOption.length > 0 && !optionMatches(definition, value) && !(definition.type === 'open-choice' && value.key === 'valueString')) {
          error(`'${item.linkId}': ${JSON.stringify(value.value)} is not one of the options the Questionnaire gives`, `${where}.${value.key}`, 'code-invalid');
        }
        if ((answer.item ?? []).length > 0) walk(definition.item, answer.item, where);
      });
    });
    // Items given more than once that do not repeat.
    for (const definition of definitions) {
      const occurrences = (given ?? []).filter((g) => g.linkId === definition.linkId).length;
      if (occurrences > 1 && !definition.repeats) error(`'${definition.linkId}' does not repeat but appears ${occurrences} times`, path);
      if (!complete || !definition.required || !isEnabled(definition, answers)) continue;
      const present = (given ?? []).filter((g) => g.linkId === definition.linkId);
      const answered = definition.type === 'group' ? present.some((g) => (g.item ?? []).length > 0) : present.some((g) => (g.answer ?? []).length > 0);
      if (!answered) error(`'${definition.linkId}' (${definition.text ?? definition.type}) is required${definition.type === 'group' ? ' and has no items' : ' and has no answer'}`, path, 'required');
    }
  };
  walk(questionnaire.item, response.item, 'QuestionnaireResponse');
  return issues;
}
