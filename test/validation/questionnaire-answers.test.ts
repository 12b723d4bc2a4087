/**
 * The checking of a QuestionnaireResponse against its Questionnaire
 * (src/validation/questionnaire-response-check.ts), rule by rule, on a small
 * Questionnaire written here: linkIds, groups and display items, value types,
 * answer options (choice and open-choice), repeats, required items of a
 * completed response only, and enableWhen (=, !=, >, exists; all / any).
 */
import type { Questionnaire, QuestionnaireResponse } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { checkQuestionnaireAnswers } from '../../src/validation/questionnaire-response-check.js';

const Q: Questionnaire = {
  resourceType: 'Questionnaire',
  url: 'https://example.org/Questionnaire/q',
  status: 'active',
  item: [
    { linkId: 'intro', type: 'display', text: 'Bonjour' },
    {
      linkId: 'g',
      type: 'group',
      required: true,
      item: [
        { linkId: 'age', type: 'integer', required: true },
        { linkId: 'lives-alone', type: 'boolean' },
        { linkId: 'who-visits', type: 'string', repeats: true, enableWhen: [{ question: 'lives-alone', operator: '=', answerBoolean: true }] },
        { linkId: 'falls', type: 'integer', enableWhen: [{ question: 'age', operator: '>', answerInteger: 75 }, { question: 'lives-alone', operator: 'exists', answerBoolean: true }], enableBehavior: 'any' },
        { linkId: 'mood', type: 'choice', answerOption: [{ valueCoding: { system: 'https://example.org/mood', code: 'ok' } }, { valueCoding: { system: 'https://example.org/mood', code: 'low' } }] },
        { linkId: 'diet', type: 'open-choice', answerOption: [{ valueString: 'normal' }] },
      ],
    },
  ],
};
const response = (item: QuestionnaireResponse['item'], status: QuestionnaireResponse['status'] = 'completed'): QuestionnaireResponse => ({ resourceType: 'QuestionnaireResponse', status, questionnaire: Q.url, item });
const a = (linkId: string, ...values: Array<Record<string, unknown>>) => ({ linkId, answer: values });
const problems = (r: QuestionnaireResponse) => checkQuestionnaireAnswers(r, Q).map((i) => `${i.code} ${i.expression![0]}`);

describe('QuestionnaireResponse against its Questionnaire', () => {
  it('accepts a response that answers as asked', () => {
    expect(problems(response([{ linkId: 'g', item: [a('age', { valueInteger: 82 }), a('lives-alone', { valueBoolean: true }), a('who-visits', { valueString: 'fille' }, { valueString: 'voisine' }), a('falls', { valueInteger: 2 }), a('mood', { valueCoding: { system: 'https://example.org/mood', code: 'low' } }), a('diet', { valueString: 'sans sel' })] }]))).toEqual([]);
  });

  it('refuses unknown linkIds, answers to a display or a group, wrong value types, options not offered, several answers to an item that does not repeat', () => {
    expect(
      problems(
        response([
          a('intro', { valueString: 'x' }),
          { linkId: 'g', item: [a('age', { valueString: '82' }), a('age', { valueInteger: 82 }), a('mood', { valueCoding: { system: 'https://example.org/mood', code: 'sad' } }), a('lives-alone', { valueBoolean: true }, { valueBoolean: false }), a('nope', { valueBoolean: true })] },
        ]),
      ),
    ).toEqual([
      'invalid QuestionnaireResponse.item[0].answer',
      'invalid QuestionnaireResponse.item[1].item[0].answer[0].valueString',
      'code-invalid QuestionnaireResponse.item[1].item[2].answer[0].valueCoding',
      'invalid QuestionnaireResponse.item[1].item[3].answer',
      'invalid QuestionnaireResponse.item[1].item[4].linkId',
      'invalid QuestionnaireResponse.item[1]',
    ]);
  });

  it('requires required items once completed only, and only when enabled', () => {
    expect(problems(response([]))).toEqual(['required QuestionnaireResponse']);
    expect(problems(response([], 'in-progress'))).toEqual([]);
    expect(problems(response([{ linkId: 'g', item: [a('lives-alone', { valueBoolean: false })] }]))).toEqual(['required QuestionnaireResponse.item[0]']);
  });

  it('refuses answers to items their enableWhen disables (all by default, any when said)', () => {
    // lives-alone false: who-visits disabled; age 60 and lives-alone answered: falls enabled (any).
    expect(problems(response([{ linkId: 'g', item: [a('age', { valueInteger: 60 }), a('lives-alone', { valueBoolean: false }), a('who-visits', { valueString: 'fille' }), a('falls', { valueInteger: 0 })] }]))).toEqual([
      'business-rule QuestionnaireResponse.item[0].item[2]',
    ]);
    // age 60 and no lives-alone answer: falls disabled.
    expect(problems(response([{ linkId: 'g', item: [a('age', { valueInteger: 60 }), a('falls', { valueInteger: 0 })] }]))).toEqual(['business-rule QuestionnaireResponse.item[0].item[1]']);
  });
});
