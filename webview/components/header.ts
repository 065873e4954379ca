// The model's name, the run's size and speed, and the run's warnings (truncation, alignment).
import { h } from '../dom';
import type { PartSpec } from './part';

export const headerPart: PartSpec = {
  name: 'header',
  key: (s) => s.trace && [s.trace],
  build: ({ trace: t }) => ({
    nodes: [
      h(
        'header',
        { class: 'model' },
        h('strong', { 'data-testid': 'model-name' }, t!.model.name),
        h('span', { class: 'muted' }, ` · ${t!.tokens.length} tokens · ${t!.backend} · ${t!.elapsedMs.toFixed(0)} ms`),
        ...t!.warnings.map((w) => h('div', { class: 'warning', role: 'status' }, w)),
      ),
    ],
  }),
};

/** What the panel says before the first run. */
export const emptyPart: PartSpec = {
  name: 'empty',
  key: (s) => (s.trace ? undefined : []),
  build: () => ({
    nodes: [h('p', { class: 'empty' }, 'Select text in an editor and run ', h('b', {}, 'Visualise attention'), '.')],
  }),
};
