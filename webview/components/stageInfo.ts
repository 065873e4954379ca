// The stage's title, its formula and what happens in it.
import { h } from '../dom';
import { currentStage } from '../store';
import type { PartSpec } from './part';

export const stageInfoPart: PartSpec = {
  name: 'stage-info',
  key: (s) => {
    const stage = currentStage(s);
    return stage && [stage];
  },
  build: (s) => {
    const stage = currentStage(s)!;
    return {
      nodes: [
        h(
          'section',
          { class: 'stage-info' },
          h('h2', { 'data-testid': 'stage-title' }, stage.title),
          h('div', { class: 'formula', 'data-testid': 'stage-formula' }, stage.formula),
          h('p', { class: 'explanation' }, stage.explanation),
        ),
      ],
    };
  },
};
