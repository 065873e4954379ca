// Previous/next stage, the position, the layer and head pickers, and decoder-step buttons. Built
// once per trace; a cursor move only updates the position and the pickers' values.
import { headsOf, layersOf, moveHead, moveStage, moveStep, stepsOf } from '../../shared/navigation';
import { h } from '../dom';
import type { Stage } from '../../shared/trace';
import { currentStage, type PanelState } from '../store';
import { go, type PanelContext, type PartSpec } from './part';

type Select = HTMLElement & { value: string };

function select(
  label: string,
  testid: string,
  options: readonly { value: string; label: string }[],
  onChange: (v: string) => void,
): { el: HTMLElement; sel: Select } {
  const sel = h('vscode-single-select', { 'data-testid': testid, 'aria-label': label }) as Select;
  for (const o of options) sel.append(h('vscode-option', { value: o.value }, o.label));
  sel.addEventListener('change', () => onChange(sel.value));
  return { el: h('label', { class: 'control' }, h('span', {}, label), sel), sel };
}

/** Sets an option list's choice, as markup (before the element upgrades) and as its value. */
function choose(sel: Select, value: string): void {
  for (const o of sel.children) o.toggleAttribute('selected', o.getAttribute('value') === value);
  if (sel.value !== value) sel.value = value;
}

/** Whether a stage has a tensor per head (or per key/value head), so the head picker means something there. */
export function stageHasHeads(stage: Stage | undefined): boolean {
  return stage?.tensors.some((t) => t.axes[0] === 'head' || t.axes[0] === 'kv_head') ?? false;
}

export function controlsPart(ctx: PanelContext): PartSpec {
  return {
    name: 'controls',
    key: (s) => s.trace && [s.trace],
    build: ({ trace }) => {
      const t = trace!;
      const state = (): PanelState => ctx.store.state;
      const position = h('span', { class: 'position', 'data-testid': 'stage-position' });
      const bar = h(
        'div',
        { class: 'controls' },
        h(
          'vscode-button',
          { 'data-testid': 'prev-stage', secondary: true, onclick: () => go(ctx, moveStage(t, state().cursor, -1)) },
          '◀ Previous stage',
        ),
        position,
        h(
          'vscode-button',
          { 'data-testid': 'next-stage', onclick: () => go(ctx, moveStage(t, state().cursor, 1)) },
          'Next stage ▶',
        ),
      );
      const layers = layersOf(t);
      let layerSel: Select | undefined;
      if (layers.length > 1) {
        const picker = select(
          'Layer',
          'layer-select',
          layers.map((l) => ({ value: String(l), label: `Layer ${l}` })),
          (v) => {
            const kind = currentStage(state())?.kind;
            const i = t.stages.findIndex((s) => s.layer === Number(v) && s.kind === kind);
            if (i >= 0) go(ctx, { ...state().cursor, stage: i });
          },
        );
        layerSel = picker.sel;
        bar.append(picker.el);
      }
      const heads = headsOf(t);
      let headSel: Select | undefined;
      // Hidden on stages without heads (tokens, embeddings, a layer's input and output, the predictions).
      let headControls: HTMLElement[] = [];
      if (heads > 0) {
        const opts = [
          ...Array.from({ length: heads }, (_, i) => ({ value: String(i), label: `Head ${i}` })),
          { value: '-1', label: 'Mean of heads' },
        ];
        const picker = select('Head', 'head-select', opts, (v) => go(ctx, { ...state().cursor, head: Number(v) }));
        headSel = picker.sel;
        const next = h(
          'vscode-button',
          { secondary: true, 'aria-label': 'Next head', onclick: () => go(ctx, moveHead(t, state().cursor, 1)) },
          'Head ▶',
        );
        headControls = [picker.el, next];
        bar.append(picker.el, next);
      }
      if (stepsOf(t).length > 0) {
        bar.append(
          h(
            'vscode-button',
            { secondary: true, 'data-testid': 'prev-step', onclick: () => go(ctx, moveStep(t, state().cursor, -1)) },
            '◀ Step',
          ),
          h(
            'vscode-button',
            { secondary: true, 'data-testid': 'next-step', onclick: () => go(ctx, moveStep(t, state().cursor, 1)) },
            'Step ▶',
          ),
        );
      }
      let shown: { stage: number; head: number } | undefined;
      return {
        nodes: [bar],
        patch: (s) => {
          if (shown?.stage === s.cursor.stage && shown.head === s.cursor.head) return;
          shown = { stage: s.cursor.stage, head: s.cursor.head };
          position.textContent = `${s.cursor.stage + 1} / ${t.stages.length}`;
          if (layerSel) choose(layerSel, String(currentStage(s)?.layer ?? layers[0]));
          if (headSel) choose(headSel, String(s.cursor.head));
          const perHead = stageHasHeads(currentStage(s));
          for (const el of headControls) el.hidden = !perHead;
        },
      };
    },
  };
}
