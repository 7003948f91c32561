import { askOpenAI } from './ai.ts';
import { languageName } from '../../core/language.ts';
import { callText, textUsage, type PipelineStepModule } from './step.ts';

/**
 * Step 3: a short summary of the call in the business's language, from the recording's
 * transcript (or the realtime one when there is none) → `summary`. Nothing was said →
 * skipped, and the summary stays null rather than describe a call that did not happen.
 */
export const summarize: PipelineStepModule = {
  name: 'summarize',
  produces: ['summary'],
  async run(call, deps) {
    const text = callText(call);
    if (!text) return { outcome: 'skipped', reason: 'nothing was said' };
    const language = languageName(call.settings.language);
    const answer = await askOpenAI('summary', deps.openai, (openai) =>
      openai.responses.create(
        {
          model: deps.config.openai.textModel,
          store: false,
          instructions: [
            `You summarise phone calls between callers and the AI receptionist of ${call.settings.businessName}.`,
            `Write the summary in ${language}, in two to four sentences: who called, what they need, what was agreed (appointment, callback, transfer) and anything the business must follow up on.`,
            'Lines starting "Caller:" are the caller, lines starting "Agent:" the receptionist: attribute facts to whoever said them.',
            'Use only what the transcript says. Do not invent names, dates or prices.',
          ].join('\n'),
          input: `Transcript of a ${call.direction} call:\n${text}`,
        },
        { signal: deps.signal },
      ),
    );
    if (!answer.ok) return answer.outcome;
    const summary = answer.value.output_text.trim();
    if (summary === '') return { outcome: 'failed', error: 'summary: the model returned no text' };
    return { outcome: 'done', changes: { summary }, usage: textUsage(answer.value.usage) };
  },
};
