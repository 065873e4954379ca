// Continue, for decoder-only language models: how many tokens and how (greedy, or sampling with
// temperature, top-k, top-p and a seed), with progress and Cancel; then the generation strip, as
// Transformer Explainer shows it: each generated token with its probability and the step's top
// alternatives. Clicking a token moves the cursor to the attention row of the query that chose it.
import {
  DEFAULT_GENERATE,
  choosingRow,
  decodingText,
  generatedTokenCursor,
  parseContinueForm,
  percentText,
  type GenerateDefaults,
} from '../../shared/generation';
import { blockOf } from '../../shared/navigation';
import { tokenLabel } from '../../shared/tensorView';
import type { GenerationStep, Trace } from '../../shared/trace';
import { h } from '../dom';
import type { PanelState } from '../store';
import { go, type PanelContext, type PartSpec } from './part';

type Mode = GenerateDefaults['mode'];
type FormField = 'tokens' | 'temperature' | 'topK' | 'topP' | 'seed';
type Form = Record<FormField, string> & { mode: Mode };

/** Generation can take as long as the host's watchdog allows (attentionLens.runTimeoutSeconds, at most an hour). */
const CONTINUE_TIMEOUT_MS = 2 * 60 * 60 * 1000;

const formOf = (d: GenerateDefaults): Form => ({
  tokens: String(d.tokens),
  mode: d.mode,
  temperature: String(d.sampling.temperature),
  topK: String(d.sampling.topK),
  topP: String(d.sampling.topP),
  seed: String(d.sampling.seed),
});

/** The step the cursor shows: its row is the step's choosing query, on an attention stage. */
function focusedStep(s: PanelState): GenerationStep | undefined {
  const t = s.trace;
  const stage = t?.stages[s.cursor.stage];
  if (!t || !stage || s.cursor.row === undefined || !blockOf(t, stage)) return undefined;
  return t.generation?.find((g) => choosingRow(g.position) === s.cursor.row);
}

function stepButton(ctx: PanelContext, t: Trace, g: GenerationStep, i: number): HTMLElement {
  const alts = g.alternatives.map((a) =>
    h(
      'li',
      { class: a.id === g.id ? 'gen-alt chosen' : 'gen-alt' },
      h('span', { class: 'gen-alt-text' }, tokenLabel({ text: a.text, id: a.id, start: -1, end: -1 })),
      ' ',
      h('span', { class: 'gen-p' }, percentText(a.p)),
    ),
  );
  const prev = t.tokens[choosingRow(g.position)];
  return h(
    'li',
    { class: 'gen-step' },
    h(
      'button',
      {
        class: 'gen-token',
        'data-testid': 'gen-token',
        'data-position': g.position,
        'aria-pressed': 'false',
        title: `Step ${i + 1}: token #${g.position} (id ${g.id}), chosen by the query at ${prev ? tokenLabel(prev) : '?'} (#${choosingRow(g.position)}). Click to show that row's attention.`,
        onclick: () => go(ctx, generatedTokenCursor(t, ctx.store.state.cursor, g.position)),
      },
      h('span', { class: 'gen-step-no' }, `${i + 1}`),
      h(
        'b',
        { class: 'gen-text', 'data-testid': 'gen-text' },
        tokenLabel({ text: g.text, id: g.id, start: -1, end: -1 }),
      ),
      h('span', { class: 'gen-p', 'data-testid': 'gen-p' }, percentText(g.p)),
      g.drawP !== undefined ? h('span', { class: 'gen-drawn' }, `drawn with ${percentText(g.drawP)}`) : undefined,
    ),
    h('ol', { class: 'gen-alts', 'aria-label': `top ${alts.length} at step ${i + 1}` }, ...alts),
  );
}

export function generationPart(ctx: PanelContext): PartSpec {
  let filledFrom: string | undefined;
  let form: Form = formOf(DEFAULT_GENERATE);
  let job: { readonly controller: AbortController; progress: string } | undefined;
  let status: { readonly text: string; readonly error: boolean } | undefined;
  /** The current build's way to show the job and the status (the part is rebuilt when the new trace arrives). */
  let show: (() => void) | undefined;

  const start = async (): Promise<void> => {
    if (job) return;
    const parsed = parseContinueForm(form);
    if ('error' in parsed) {
      status = { text: parsed.error, error: true };
      show?.();
      return;
    }
    const controller = new AbortController();
    job = { controller, progress: 'Starting…' };
    status = undefined;
    show?.();
    try {
      const r = await ctx.request(
        { kind: 'continue', ...parsed.settings },
        {
          signal: controller.signal,
          timeoutMs: CONTINUE_TIMEOUT_MS,
          onProgress: (f, m) => {
            if (job) job.progress = `${m} (${Math.round(f * 100)}%)`;
            show?.();
          },
        },
      );
      status = {
        text: `Generated ${r.generated} token${r.generated === 1 ? '' : 's'} (${decodingText(parsed.settings)}).`,
        error: false,
      };
    } catch (err) {
      const cancelled = (err as { code?: string }).code === 'cancelled';
      status = { text: cancelled ? 'Cancelled: nothing was added.' : (err as Error).message, error: !cancelled };
    } finally {
      job = undefined;
      show?.();
    }
  };

  return {
    name: 'generation',
    key: (s) => (s.trace?.model.causalLm ? [s.trace, JSON.stringify(s.settings.generate ?? null)] : undefined),
    build: (s) => {
      const t = s.trace!;
      const defaults = s.settings.generate ?? DEFAULT_GENERATE;
      if (filledFrom !== JSON.stringify(defaults)) {
        filledFrom = JSON.stringify(defaults);
        form = formOf(defaults);
      }
      const input = (f: FormField, label: string, attrs: Record<string, string | number>): HTMLElement => {
        const el = h('input', {
          type: 'number',
          class: 'gen-input',
          'data-testid': `gen-${f}`,
          'aria-label': label,
          value: form[f],
          ...attrs,
        });
        el.addEventListener('input', () => (form[f] = el.value));
        el.addEventListener('keydown', (e) => e.key === 'Enter' && void start());
        return h('label', { class: 'control' }, h('span', {}, label), el);
      };
      const modeButton = (m: Mode): HTMLButtonElement =>
        h(
          'button',
          {
            class: 'toggle',
            'data-testid': `gen-${m}`,
            onclick: () => {
              form.mode = m;
              show?.();
            },
          },
          m,
        );
      const greedy = modeButton('greedy');
      const sampling = modeButton('sampling');
      const samplingFields = h(
        'div',
        { class: 'gen-sampling', 'data-testid': 'gen-sampling-fields' },
        input('temperature', 'Temperature', { min: 0, step: 0.1 }),
        input('topK', 'Top-k', { min: 0, step: 1 }),
        input('topP', 'Top-p', { min: 0, max: 1, step: 0.05 }),
        input('seed', 'Seed', { min: 0, step: 1 }),
      );
      const goButton = h('vscode-button', { 'data-testid': 'continue', onclick: () => void start() }, 'Continue ▶');
      const cancel = h(
        'vscode-button',
        { 'data-testid': 'gen-cancel', secondary: true, onclick: () => job?.controller.abort() },
        'Cancel',
      );
      const line = h('span', { class: 'gen-status', role: 'status', 'data-testid': 'gen-status' });
      const steps = t.generation ?? [];
      const strip = steps.length
        ? h('ol', { class: 'gen-strip', 'data-testid': 'gen-strip' }, ...steps.map((g, i) => stepButton(ctx, t, g, i)))
        : undefined;
      const focusNote = h('p', { class: 'muted gen-focus', 'data-testid': 'gen-focus' });
      show = () => {
        for (const [b, m] of [
          [greedy, 'greedy'],
          [sampling, 'sampling'],
        ] as const) {
          b.classList.toggle('on', form.mode === m);
          b.setAttribute('aria-pressed', String(form.mode === m));
        }
        samplingFields.hidden = form.mode !== 'sampling';
        goButton.toggleAttribute('disabled', job !== undefined);
        cancel.hidden = job === undefined;
        line.textContent = job ? job.progress : (status?.text ?? '');
        line.classList.toggle('error', !job && status?.error === true);
      };
      show();
      // An exported page cannot continue: without generated tokens to show there is nothing to say.
      if (ctx.standalone && !strip) return { nodes: [] };
      const section = h(
        'section',
        { class: 'generation', 'data-testid': 'generation' },
        h('h3', {}, 'Continue the text'),
        ctx.standalone
          ? undefined
          : h(
              'div',
              { class: 'gen-form' },
              input('tokens', 'Tokens', { min: 1, max: 64, step: 1 }),
              h('div', { class: 'toggles', role: 'group', 'aria-label': 'decoding' }, greedy, sampling),
              samplingFields,
              goButton,
              cancel,
              line,
            ),
        strip ??
          h(
            'p',
            { class: 'muted' },
            `${t.model.name} predicts the next token; Continue adds tokens after the selection and shows the trace of the longer text (the editor is not changed).`,
          ),
        strip ? focusNote : undefined,
      );
      return {
        nodes: [section],
        patch: (st) => {
          const f = focusedStep(st);
          for (const b of section.querySelectorAll<HTMLElement>('[data-testid="gen-token"]')) {
            const on = f !== undefined && Number(b.dataset.position) === f.position;
            b.classList.toggle('on', on);
            b.setAttribute('aria-pressed', String(on));
          }
          const stage = st.trace?.stages[st.cursor.stage];
          const prev = f && t.tokens[choosingRow(f.position)];
          focusNote.textContent =
            f && prev && stage
              ? `${stage.title}: the outlined row is ${tokenLabel(prev)} (#${choosingRow(f.position)}), the query that chose ${tokenLabel({ text: f.text, id: f.id, start: -1, end: -1 })} (#${f.position}) over the tokens before it.`
              : 'Click a generated token to see the attention of the query that chose it (the row of the token before it).';
        },
        dispose: () => {
          show = undefined;
        },
      };
    },
  };
}
