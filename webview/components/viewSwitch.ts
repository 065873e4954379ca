// Heatmap | lines (one head) | all heads, grid | all heads, overlaid lines (BertViz's head view) | text | neuron: tabs, switched in place.
import type { ViewMode } from '../../shared/protocol';
import { h } from '../dom';
import { go, type PanelContext, type PartSpec } from './part';

const VIEWS: readonly [ViewMode, string][] = [
  ['heatmap', 'Heatmap'],
  ['lines', 'Lines (one head)'],
  ['grid', 'All heads: grid'],
  ['heads', 'All heads: lines'],
  ['text', 'Text view'],
  ['neuron', 'Neuron view'],
];

export function viewSwitchPart(ctx: PanelContext): PartSpec {
  return {
    name: 'view-switch',
    key: (s) => s.trace && [],
    build: () => {
      const tabs = VIEWS.map(
        ([v, label]) =>
          [
            v,
            h(
              'button',
              {
                role: 'tab',
                class: 'tab',
                'data-testid': `view-${v}`,
                onclick: () => go(ctx, { ...ctx.store.state.cursor, view: v }),
              },
              label,
            ),
          ] as const,
      );
      let shown: ViewMode | undefined;
      return {
        nodes: [h('div', { class: 'view-switch', role: 'tablist', 'aria-label': 'View' }, ...tabs.map(([, b]) => b))],
        patch: (s) => {
          if (s.cursor.view === shown) return;
          shown = s.cursor.view;
          for (const [v, b] of tabs) {
            b.className = v === shown ? 'tab current' : 'tab';
            b.setAttribute('aria-selected', v === shown ? 'true' : 'false');
          }
        },
      };
    },
  };
}
