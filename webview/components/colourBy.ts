// “Colour by: attention weight α / value-weighted norm ‖αvW_O‖”: the toggle the attention heatmap
// and the all-heads grid share (Kobayashi et al., 2020). Shown only where the block has the norms
// (every Transformer block; not the seq2seq RNNs, which have no per-head output projection).
import { h } from '../dom';
import type { ColourBy } from '../store';
import type { PanelContext } from './part';

export const COLOUR_BY_LABELS: Record<ColourBy, string> = {
  weights: 'attention weight α',
  value_norms: 'value-weighted norm ‖αvW_O‖',
};

/** Short names for readouts: what a cell's two numbers are. */
export const COLOUR_BY_SHORT: Record<ColourBy, string> = { weights: 'α', value_norms: '‖αvW_O‖' };

export function colourByControl(ctx: PanelContext, by: ColourBy): HTMLElement {
  const buttons = (['weights', 'value_norms'] as const).map((b) =>
    h(
      'vscode-button',
      {
        secondary: b !== by,
        'data-testid': `colour-by-${b}`,
        'aria-pressed': String(b === by),
        onclick: () => ctx.store.dispatch({ type: 'colourBy', by: b }),
      },
      COLOUR_BY_LABELS[b],
    ),
  );
  return h(
    'div',
    { class: 'colour-by', role: 'group', 'aria-label': 'colour by', 'data-testid': 'colour-by' },
    h('span', { class: 'muted' }, 'Colour by:'),
    ...buttons,
  );
}
