// The stage body: the view tabs, what the stage shows (heatmaps, the head view, the all-heads
// grid, or the tokens), the predictions, the what-if and the export bar, each its own part.
import { blockOf } from '../../shared/navigation';
import { headCount, toMatrix } from '../../shared/tensorView';
import { timeSeriesOf } from '../../shared/timeSeries';
import { findTensor } from '../../shared/trace';
import { h } from '../dom';
import { colourByControl, COLOUR_BY_SHORT } from './colourBy';
import { isAttentionMatrix, linesTensor, matrixOf, shownTensors, withMask } from '../matrices';
import { currentStage, type PanelState } from '../store';
import { exportBarPart } from './exportBar';
import { buildGrid } from './grid';
import { linesFigure } from './linesFigure';
import { matrixFigure, type Figure } from './matrixFigure';
import { group, type Built, type PanelContext, type PartSpec } from './part';
import { attentionView } from './attentionView';
import { stepView } from './stepView';
import { decodedPart, predictionsPart } from './predictions';
import { timeAxisFigure } from './timeAxis';
import { tokenChips } from './tokens';
import { viewSwitchPart } from './viewSwitch';
import { whatIfPart } from './whatIf';

const VALUE_NORMS = 'value_norms';
/** The caption of the norms' heatmap: what the colour measures. */
export const VALUE_NORMS_CAPTION =
  '‖α·v·W_O‖ (value-weighted norm): the length of what each key adds to the query’s output through this head (W_O’s bias left out; Kobayashi et al., 2020)';

function figures(list: readonly Figure[], el: HTMLElement): Built {
  return {
    nodes: [el],
    resize: () => list.forEach((f) => f.resize()),
    dispose: () => list.forEach((f) => f.dispose?.()),
  };
}

/** The stage's own figures. Its key says what they are drawn from, so a head switch redraws them and nothing else. */
export function contentPart(ctx: PanelContext): PartSpec {
  return {
    name: 'content',
    key: (s: PanelState) => {
      const stage = currentStage(s);
      if (!s.trace || !stage) return undefined;
      const { view, row } = s.cursor;
      const map = s.settings.colourMap;
      if (view === 'grid') return [s.trace, 'grid', map, s.colourBy ?? 'weights'];
      // A forecast (the traffic models): the time axis above the stage's own figures, for the focused forecast hour.
      if (view === 'heatmap' && timeSeriesOf(s.trace)) return [stage, 'time', map, row];
      if (stage.kind === 'tokens') return [s.trace, 'tokens'];
      // A stage without a head axis (embeddings, layer outputs) looks the same for every head.
      const head = stage.tensors.some((t) => headCount(t) > 0) ? s.cursor.head : undefined;
      if (view === 'lines' && linesTensor(stage)) return [stage, 'lines', head, map, row];
      // The head view shows every head; the text and neuron views follow the focused row in place (patch).
      if (view === 'heads') return [stage, 'heads'];
      if (view === 'text' || view === 'neuron') return [stage, view, s.cursor.head];
      // The step view follows the focused row (its output step) in place (patch).
      if (view === 'steps') return [stage, 'steps', s.cursor.head, map];
      // The focused query row is outlined on attention stages only (the rows are query tokens there).
      const by = findTensor(stage, VALUE_NORMS) ? (s.colourBy ?? 'weights') : undefined;
      return [stage, 'heatmap', head, map, stage.attention ? row : undefined, by];
    },
    build: (s) => {
      const t = s.trace!;
      const stage = currentStage(s)!;
      const { view, head, row } = s.cursor;
      const map = s.settings.colourMap;
      if (view === 'grid') return buildGrid(ctx, t, ctx.tensors.gridOf(t), map, s.colourBy);
      const series = view === 'heatmap' ? timeSeriesOf(t) : undefined;
      const axis = series && timeAxisFigure(ctx, t, stage, series, row, map);
      if (stage.kind === 'tokens')
        return axis ? figures([axis], h('div', {}, axis.el, tokenChips(t))) : { nodes: [tokenChips(t)] };
      if (view === 'steps') return stepView(ctx, t, stage, head, map);
      if (view === 'heads' || view === 'text' || view === 'neuron')
        return attentionView(ctx, t, stage, view, head, row);
      const mask = blockOf(t, stage)?.mask;
      const kvHeadOf = stage.attention?.kvHeadOf;
      const lines = view === 'lines' ? linesTensor(stage) : undefined;
      if (lines) {
        const f = linesFigure(ctx, lines, withMask(toMatrix(t, lines, head, kvHeadOf), mask), map, row);
        return figures([f], f.el);
      }
      // A weights stage with value-weighted norms shows one of the two, chosen by “colour by”, and reads out both.
      const norms = findTensor(stage, VALUE_NORMS);
      const weights = findTensor(stage, 'weights');
      const by = norms && weights ? (s.colourBy ?? 'weights') : undefined;
      const pair = by && weights && norms ? { weights, value_norms: norms } : undefined;
      const hidden = by === 'weights' ? VALUE_NORMS : by === 'value_norms' ? 'weights' : undefined;
      const list = shownTensors(stage)
        .filter((x) => x.name !== hidden)
        .map((tensor) => {
          const other = pair && by && tensor.name === by ? (by === 'weights' ? 'value_norms' : 'weights') : undefined;
          return matrixFigure(ctx, {
            matrix: matrixOf(t, tensor, head, kvHeadOf, mask),
            tensor,
            head,
            colourMap: map,
            kvHeadOf,
            zoomKey: { stage: stage.id, tensor: tensor.name, head },
            ...(tensor.name === VALUE_NORMS ? { caption: VALUE_NORMS_CAPTION } : {}),
            ...(pair && other
              ? {
                  companion: {
                    label: COLOUR_BY_SHORT[other],
                    ownLabel: COLOUR_BY_SHORT[by!],
                    matrix: matrixOf(t, pair[other], head, kvHeadOf, mask),
                  },
                }
              : {}),
            ...(stage.attention && row !== undefined && isAttentionMatrix(tensor) ? { focusRow: row } : {}),
          });
        });
      const matrices = h(
        'div',
        { class: 'matrices' },
        ...(by ? [colourByControl(ctx, by)] : []),
        ...list.map((f) => f.el),
      );
      return axis ? figures([axis, ...list], h('div', {}, axis.el, matrices)) : figures(list, matrices);
    },
  };
}

export function stageBodyPart(ctx: PanelContext): PartSpec {
  return {
    name: 'stage-body',
    key: (s) => s.trace && [],
    build: () =>
      group(ctx, h('section', { class: 'stage-body' }), [
        decodedPart,
        viewSwitchPart(ctx),
        contentPart(ctx),
        predictionsPart,
        whatIfPart(ctx),
        exportBarPart(ctx),
      ]),
  };
}
