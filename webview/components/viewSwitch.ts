// Heatmap | lines (one head) | all heads, grid | all heads, overlaid lines (BertViz's head view) | text | neuron
// | by output step (Transformer encoder–decoders): tabs, switched in place.
import type { ViewMode } from '../../shared/protocol';
import { hasDecoderSteps } from '../../shared/decoderSteps';
import { h } from '../dom';
import { headsOf } from '../../shared/navigation';
import { currentStage } from '../store';
import { go, type PanelContext, type PartSpec } from './part';

const VIEWS: readonly [ViewMode, string][] = [
  ['heatmap', 'Heatmap'],
  ['lines', 'Lines (one head)'],
  ['grid', 'All heads: grid'],
  ['heads', 'All heads: lines'],
  ['text', 'Text view'],
  ['neuron', 'Neuron view'],
  ['steps', 'By output step'],
];

export function viewSwitchPart(ctx: PanelContext): PartSpec {
  return {
    name: 'view-switch',
    // The step view's tab only on a Transformer encoder–decoder (the RNN seq2seq models have a stage per step).
    key: (s) => s.trace && [hasDecoderSteps(s.trace)],
    build: (s) => {
      const steps = hasDecoderSteps(s.trace!);
      const tabs = VIEWS.filter(([v]) => v !== 'steps' || steps).map(
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
      // One row that never wraps: when the tabs are wider than the panel the row scrolls sideways
      // (CSS), and the current tab is scrolled into it.
      const row = h(
        'div',
        { class: 'view-switch', role: 'tablist', 'aria-label': 'View', 'data-testid': 'view-switch' },
        ...tabs.map(([, b]) => b),
      );
      // A tab list: one tab stop (the current tab); arrows, Home and End move to a tab and show it.
      row.addEventListener('keydown', (e) => {
        const i = tabs.findIndex(([, b]) => b === e.target);
        if (i < 0) return;
        const n = tabs.length;
        const j =
          e.key === 'ArrowRight'
            ? (i + 1) % n
            : e.key === 'ArrowLeft'
              ? (i - 1 + n) % n
              : e.key === 'Home'
                ? 0
                : e.key === 'End'
                  ? n - 1
                  : -1;
        if (j < 0) return;
        e.preventDefault();
        const [v, b] = tabs[j]!;
        b.focus();
        go(ctx, { ...ctx.store.state.cursor, view: v });
      });
      return {
        nodes: [row],
        patch: (s) => {
          // No views to switch on the tokens stage, nor for a model without heads.
          row.hidden = headsOf(s.trace!) === 0 || currentStage(s)?.kind === 'tokens';
          if (s.cursor.view === shown) return;
          shown = s.cursor.view;
          for (const [v, b] of tabs) {
            b.className = v === shown ? 'tab current' : 'tab';
            b.setAttribute('aria-selected', v === shown ? 'true' : 'false');
            b.tabIndex = v === shown ? 0 : -1;
            if (v === shown) {
              if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => revealTab(row, b));
              else revealTab(row, b);
            }
          }
        },
      };
    },
  };
}

/** Scrolls the tab row sideways (only) so that `tab` is wholly inside it. */
function revealTab(row: HTMLElement, tab: HTMLElement): void {
  const left = tab.offsetLeft - row.offsetLeft;
  if (left < row.scrollLeft) row.scrollLeft = left;
  else if (left + tab.offsetWidth > row.scrollLeft + row.clientWidth)
    row.scrollLeft = left + tab.offsetWidth - row.clientWidth;
}
