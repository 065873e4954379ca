// The stage bar: tokens → embedding → encoder → Q/K/V → scores → normalise → context → decoder,
// the phases this trace has; the current one is highlighted in place when the cursor moves.
import { jumpToPhase, PHASES, phaseOf, type Phase } from '../../shared/navigation';
import { h } from '../dom';
import { currentStage } from '../store';
import { go, type PanelContext, type PartSpec } from './part';

export function pipelinePart(ctx: PanelContext): PartSpec {
  return {
    name: 'pipeline',
    key: (s) => s.trace && [s.trace],
    build: ({ trace: t }) => {
      const present = new Set(t!.stages.map((s) => phaseOf(s.kind)));
      const buttons = new Map<Phase, HTMLElement>();
      for (const p of PHASES.filter((x) => present.has(x))) {
        buttons.set(
          p,
          h('button', { class: 'phase', onclick: () => go(ctx, jumpToPhase(t!, ctx.store.state.cursor, p)) }, p),
        );
      }
      let shown: Phase | undefined;
      return {
        nodes: [h('nav', { class: 'pipeline', 'aria-label': 'Pipeline stages' }, ...buttons.values())],
        patch: (s) => {
          const stage = currentStage(s);
          const current = stage && phaseOf(stage.kind);
          if (current === shown) return;
          shown = current;
          for (const [p, b] of buttons) {
            b.className = p === current ? 'phase current' : 'phase';
            if (p === current) b.setAttribute('aria-current', 'step');
            else b.removeAttribute('aria-current');
          }
        },
      };
    },
  };
}
