// The model's name, the run's size and speed, the "Model info" button, and the run's warnings
// (truncation, alignment); below it, the model info when it is open.
import { modelFiles, modelInfoRows } from '../../shared/modelInfo';
import { h } from '../dom';
import type { PanelContext, PartSpec } from './part';

export function headerPart(ctx: PanelContext): PartSpec {
  return {
    name: 'header',
    key: (s) => s.trace && [s.trace, s.modelInfo ?? false, s.stream],
    build: ({ trace: t, modelInfo: open, stream }) => ({
      nodes: [
        h(
          'header',
          { class: 'model' },
          h('strong', { 'data-testid': 'model-name' }, t!.model.name),
          h(
            'span',
            { class: 'muted' },
            // A streamed run's partial trace has no run time yet: its time so far is not the run's.
            ` · ${t!.tokens.length} tokens · ${t!.backend} · ${
              !stream ? `${t!.elapsedMs.toFixed(0)} ms` : stream.ended ? 'partial run' : 'running…'
            } `,
          ),
          h(
            'vscode-button',
            {
              secondary: true,
              'data-testid': 'model-info-button',
              'aria-expanded': String(open === true),
              'aria-controls': 'model-info',
              onclick: () => ctx.store.dispatch({ type: 'modelInfo', open: !ctx.store.state.modelInfo }),
            },
            open ? 'Hide model info' : 'Model info',
          ),
          ...t!.warnings.map((w) => h('div', { class: 'warning', role: 'status' }, w)),
          ...(t!.notes ?? []).map((n) => h('div', { class: 'note muted', 'data-testid': 'run-note' }, n)),
        ),
        ...(open ? [modelInfoSection(ctx, t!)] : []),
      ],
    }),
  };
}

/** The model info: what "Show model info" shows, the same rows as shared/modelInfo.ts gives. */
function modelInfoSection(ctx: PanelContext, t: NonNullable<Parameters<typeof modelInfoRows>[0]>): HTMLElement {
  const m = t.model;
  const table = (rows: ReturnType<typeof modelInfoRows>, testid: string, head?: [string, string]) =>
    h(
      'table',
      { class: 'model-info-table', 'data-testid': testid },
      ...(head ? [h('thead', {}, h('tr', {}, h('th', {}, head[0]), h('th', {}, head[1])))] : []),
      h(
        'tbody',
        {},
        ...rows.map((r) => h('tr', { 'data-row': r.label }, h('th', { scope: 'row' }, r.label), h('td', {}, r.value))),
      ),
    );
  const files = modelFiles(t);
  return h(
    'section',
    { class: 'model-info', id: 'model-info', 'data-testid': 'model-info', 'aria-label': `Model info: ${m.name}` },
    h(
      'div',
      { class: 'model-info-title' },
      h('h2', {}, m.name),
      h(
        'vscode-button',
        {
          secondary: true,
          'data-testid': 'model-info-close',
          onclick: () => ctx.store.dispatch({ type: 'modelInfo', open: false }),
        },
        'Close',
      ),
    ),
    h('p', {}, m.description),
    table(modelInfoRows(t), 'model-info-rows'),
    ...(files.length > 0
      ? [h('h3', {}, 'Files'), table(files, 'model-info-files', ['file', 'size'])]
      : [h('p', { class: 'muted' }, 'This model has no folder of files (it is built in code or from a config).')]),
    h(
      'details',
      {},
      h('summary', {}, `Stages of the last run (${t.tokens.length} tokens, ${t.elapsedMs.toFixed(0)} ms)`),
      h(
        'ol',
        { 'data-testid': 'model-info-stages' },
        ...t.stages.map((s) => h('li', {}, h('b', {}, s.title), ' — ', h('code', {}, s.formula))),
      ),
    ),
  );
}

/** What the panel says before the first run. */
export const emptyPart: PartSpec = {
  name: 'empty',
  key: (s) => (s.trace ? undefined : []),
  build: () => ({
    nodes: [h('p', { class: 'empty' }, 'Select text in an editor and run ', h('b', {}, 'Visualise attention'), '.')],
  }),
};
