// The next-token predictions of a decoder step: the k the run computed (entries per prediction).
import type { Prediction, Trace } from '../../shared/trace';
import { tokenLabel } from '../../shared/tensorView';
import { h } from '../dom';
import { currentStage } from '../store';
import type { PartSpec } from './part';

/** How many candidates the run kept per position (the top-k it was computed with). */
export function predictionK(predictions: readonly Prediction[]): number {
  return predictions.reduce((k, p) => Math.max(k, p.top.length), 0);
}

function table(t: Trace, step: number | undefined): HTMLElement {
  const all = t.predictions ?? [];
  const rows = all.filter((p) => step === undefined || p.position === step);
  return h(
    'table',
    { class: 'predictions', 'data-testid': 'predictions' },
    h('thead', {}, h('tr', {}, h('th', {}, 'after token'), h('th', {}, `top-${predictionK(all)} next tokens`))),
    h(
      'tbody',
      {},
      ...rows.map((p) => {
        const tok = step === undefined ? t.tokens[p.position] : t.outputTokens?.[p.position];
        return h(
          'tr',
          {},
          h('td', {}, tok ? tokenLabel(tok) : String(p.position)),
          h('td', {}, p.top.map((c) => `${c.text} ${(c.p * 100).toFixed(1)}%`).join('   ')),
        );
      }),
    ),
  );
}

export const predictionsPart: PartSpec = {
  name: 'predictions',
  key: (s) => {
    const stage = currentStage(s);
    const shown = s.trace?.predictions?.length && stage?.kind === 'decoder-step' && s.cursor.view !== 'grid';
    return shown ? [s.trace, stage.step] : undefined;
  },
  build: (s) => ({ nodes: [table(s.trace!, currentStage(s)!.step)] }),
};
