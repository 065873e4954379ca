// The three views of one attention block (the cursor's): the head view (every head overlaid), the
// text view and the neuron view. Each reads its tensors through blockOf(trace, stage) only, and says
// plainly when the cursor's stage has nothing it can show.
import { blockOf } from '../../shared/navigation';
import { neuronSource } from '../../shared/neuron';
import type { Stage, Trace } from '../../shared/trace';
import { h } from '../dom';
import { weightsCube } from '../attentionViews';
import { headView } from './headView';
import { neuronView } from './neuronView';
import { textView } from './textView';
import type { Built, PanelContext } from './part';

const NAMES = { heads: 'head view', text: 'text view', neuron: 'neuron view' } as const;

function unavailable(view: keyof typeof NAMES, why: string): Built {
  return {
    nodes: [
      h('p', { class: 'muted view-unavailable', 'data-testid': 'view-unavailable' }, `The ${NAMES[view]} ${why}`),
    ],
  };
}

export function attentionView(
  ctx: PanelContext,
  trace: Trace,
  stage: Stage,
  view: keyof typeof NAMES,
  head: number | undefined,
  row: number | undefined,
): Built {
  const block = blockOf(trace, stage);
  if (!block)
    return unavailable(
      view,
      'shows one attention block: move to an attention stage (queries/keys/values, scores, weights or context) of a layer.',
    );
  const cube = weightsCube(block, trace);
  if (!cube)
    return unavailable(
      view,
      `cannot read this block’s weights ${JSON.stringify(block.weights.shape)} against its ${block.queryTokens.length} queries and ${block.keyTokens.length} keys.`,
    );
  if (view === 'heads') {
    const f = headView(ctx, trace, block, cube);
    return { nodes: [f.el], resize: f.resize };
  }
  if (view === 'text') {
    const f = textView(ctx, trace, block, cube, head ?? -1, row);
    return { nodes: [f.el], resize: f.resize, patch: f.patch };
  }
  const bias = block.info.scoreBias;
  const src = neuronSource(block, bias && trace.stages.find((s) => s.id === bias.stage));
  if (!src.ok) return unavailable(view, `is not available here. ${src.reason}`);
  const f = neuronView(ctx, block, src, head ?? 0, row);
  return { nodes: [f.el], resize: f.resize, patch: f.patch };
}
