// The model's predictions: per row the token it belongs to (the decoder step and what it read,
// the masked position, or the token whose next one is predicted) and the top-k the run computed,
// each with its decoded text and probability. Ids are never drawn as colours.
import type { Prediction, Stage, Trace } from '../../shared/trace';
import { findTensor } from '../../shared/trace';
import { predictionKind, predictionRowLabel, type PredictionKind } from '../../shared/tensorView';
import { h } from '../dom';
import { currentStage } from '../store';
import type { PartSpec } from './part';

/** How many candidates the run kept per position (the top-k it was computed with). */
export function predictionK(predictions: readonly Prediction[]): number {
  return predictions.reduce((k, p) => Math.max(k, p.top.length), 0);
}

const HEADINGS: Record<PredictionKind, readonly [string, string]> = {
  decoder: ['decoder step', 'next tokens'],
  masked: ['at token', 'predictions for the token'],
  'next-token': ['after token', 'next tokens'],
};

function table(t: Trace, step: number | undefined): HTMLElement {
  const all = t.predictions ?? [];
  const rows = all.filter((p) => step === undefined || p.position === step);
  const [first, second] = HEADINGS[predictionKind(t)];
  return h(
    'table',
    { class: 'predictions', 'data-testid': 'predictions' },
    h('thead', {}, h('tr', {}, h('th', {}, first), h('th', {}, `top-${predictionK(all)} ${second}`))),
    h(
      'tbody',
      {},
      ...rows.map((p) =>
        h(
          'tr',
          {},
          h('td', { class: 'prediction-row' }, predictionRowLabel(t, p.position)),
          h(
            'td',
            {},
            ...p.top.map((c) =>
              h('span', { class: 'candidate' }, h('b', {}, c.text), ` ${(c.p * 100).toFixed(1)}%`, '   '),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A stage that shows predictions: the output stage with its top-k tensors, or one decoder step. */
function showsPredictions(stage: Stage): boolean {
  return (
    stage.kind === 'decoder-step' ||
    findTensor(stage, 'top_id') !== undefined ||
    findTensor(stage, 'probs') !== undefined
  );
}

export const predictionsPart: PartSpec = {
  name: 'predictions',
  key: (s) => {
    const stage = currentStage(s);
    const shown = s.trace?.predictions?.length && stage && showsPredictions(stage) && s.cursor.view !== 'grid';
    return shown ? [s.trace, stage.step] : undefined;
  },
  build: (s) => ({ nodes: [table(s.trace!, currentStage(s)!.step)] }),
};

/** A decoder-side stage: one output step, attention whose queries are outputs, or tensors over the outputs. */
function decoderSide(stage: Stage): boolean {
  return (
    stage.step !== undefined ||
    stage.attention?.queries === 'output' ||
    stage.tensors.some((x) => Object.values(x.tokenAxes ?? {}).includes('output'))
  );
}

/**
 * The decoded output as one span per output step (special tokens left out, SentencePiece's ▁ as a
 * space, the whole trimmed as decodedOutput trims it), so the step the cursor is on can be marked.
 */
export function decodedPieces(trace: Trace): { step: number; text: string }[] {
  const pieces = (trace.outputTokens ?? [])
    .map((t, step) => ({ step, text: t.text.replace(/▁/g, ' '), special: t.special }))
    .filter((p) => !p.special)
    .map(({ step, text }) => ({ step, text }));
  if (pieces.length > 0) {
    pieces[0] = { ...pieces[0]!, text: pieces[0]!.text.trimStart() };
    const last = pieces.length - 1;
    pieces[last] = { ...pieces[last]!, text: pieces[last]!.text.trimEnd() };
  }
  return pieces;
}

/** The decoded output of an encoder–decoder, above each of its decoder stages; the focused step's token marked. */
export const decodedPart: PartSpec = {
  name: 'decoded',
  key: (s) => {
    const stage = currentStage(s);
    if (!s.trace?.outputTokens?.length || !stage || !decoderSide(stage)) return undefined;
    // The focused row of a decoder stage is an output step (the step view's, a heatmap's query row).
    const row = stage.attention?.queries === 'output' || s.cursor.view === 'steps' ? s.cursor.row : undefined;
    return [s.trace, row];
  },
  build: (s) => {
    const stage = currentStage(s)!;
    const row = stage.attention?.queries === 'output' || s.cursor.view === 'steps' ? s.cursor.row : undefined;
    const at = s.cursor.view === 'steps' ? Math.max(0, row ?? 0) : row;
    return {
      nodes: [
        h(
          'p',
          { class: 'decoded', 'data-testid': 'decoded-output' },
          'Decoded output: ',
          h(
            'b',
            {},
            ...decodedPieces(s.trace!).map((p) =>
              p.step === at
                ? h(
                    'mark',
                    { class: 'current-step', 'data-testid': 'decoded-current', title: `output step ${p.step + 1}` },
                    p.text,
                  )
                : p.text,
            ),
          ),
        ),
      ],
    };
  },
};
