/**
 * QuestionnaireResponses are checked against their Questionnaire on write
 * (src/validation/questionnaire-response-check.ts), as a write extension: it
 * runs inside every create or update of a QuestionnaireResponse — alone, in a
 * batch or in a transaction — reads the Questionnaire through the server's
 * session, adds nothing, and refuses the whole write (422, each problem
 * located by its FHIRPath) when the answers do not fit. A response naming a
 * Questionnaire the server does not know is let through (R4 leaves
 * `questionnaire` a canonical the server may not hold); the profile of
 * QuestionnaireResponse requires the element. Applies with profile validation
 * (VALIDATION_ENFORCEMENT other than off).
 */
import type { QuestionnaireResponse } from 'fhir/r4';
import type { PreparedWrite, WriteExtension } from '../engine/transaction-extension.js';
import { errors } from '../errors.js';
import type { WriteOperation } from '../store/resource-store.js';
import { checkQuestionnaireAnswers } from '../validation/questionnaire-response-check.js';
import { findQuestionnaire } from './questionnaire-resolver.js';

export class QuestionnaireAnswersCheck implements WriteExtension {
  readonly name = 'questionnaire-answers';
  readonly types: ReadonlySet<string> = new Set(['QuestionnaireResponse']);

  async beforeCommit(write: PreparedWrite): Promise<WriteOperation[]> {
    const registry = write.ctx.profileValidation?.registry;
    for (const entry of write.entries) {
      if (entry.resourceType !== 'QuestionnaireResponse' || (entry.outcome !== 'created' && entry.outcome !== 'updated') || !entry.resource) continue;
      const response = entry.resource as QuestionnaireResponse;
      if (!response.questionnaire) continue;
      const questionnaire = await findQuestionnaire(write.server, registry, response.questionnaire);
      if (!questionnaire) continue;
      const issues = checkQuestionnaireAnswers(response, questionnaire);
      if (issues.length > 0) throw errors.questionnaireAnswersInvalid(issues);
    }
    return [];
  }
}
