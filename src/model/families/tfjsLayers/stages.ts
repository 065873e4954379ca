// The trace's stages for a TensorFlow.js layers model: the four stages of each inspected attention
// layer (trace/stages.ts's attentionStages with the layer's own score formula and tensors), and
// the output as next-token predictions, classes or a plain tensor. Words from lesson.ts.
import { tf } from '../../runtime/backend';
import { attentionStages, topKRows, topKTensors } from '../../trace/stages';
import { topKPredictions } from '../../trace/run';
import { tensor, type AttentionInfo, type Prediction, type Stage, type TensorData } from '../../../../shared/trace';
import type { AttentionLayerRecord } from './kerasAttention';
import { layerWords, tfjsLesson } from './lesson';

const IN = { token: 'input' } as const;

/** The four attention stages of one recorded layer, with formulas for its own score function. */
export function layerStages(r: AttentionLayerRecord, index: number): Stage[] {
  const mha = r.className === 'MultiHeadAttention';
  const additive = r.scoreMode === 'additive' || r.scoreMode === 'concat';
  const attention: AttentionInfo = {
    queries: 'input',
    keys: 'input',
    causal: r.causal,
    score: additive ? 'additive' : mha ? 'scaled-dot' : 'dot',
    normaliser: 'softmax',
  };
  const H = r.heads;
  const kd = r.keyDim;
  const vd = r.valueDim;
  const words = layerWords(r, index);
  const stages = attentionStages({
    prefix: `L${index}`,
    layer: index,
    title: words.title,
    attention,
    heads: H,
    headDim: kd,
    dModel: r.outputDim,
    queryCount: r.queryCount,
    keyCount: r.keyCount,
    // attentionStages lays V and context out with the key size; they are replaced below when value_dim differs.
    record: {
      q: r.q,
      k: r.k,
      v: kd === vd ? r.v : new Float32Array(H * r.keyCount * kd),
      scores: r.scores,
      weights: r.weights,
      context: kd === vd ? r.context : new Float32Array(H * r.queryCount * kd),
      output: r.output,
    },
    ...(r.mask ? { mask: r.mask } : {}),
    qkvFormula: words.qkvFormula,
    qkvText: words.qkvText,
    scoresText: words.scoresText,
    weightsFormula: words.weightsFormula,
    weightsText: words.weightsText,
    contextText: words.contextText,
  });
  const fix = (t: TensorData): TensorData => {
    if (kd === vd) return t;
    if (t.name === 'V')
      return tensor('V', [H, r.keyCount, vd], ['head', 'token', 'd_head'], r.v, {
        tokenAxes: IN,
        description: t.description ?? '',
      });
    if (t.name === 'context')
      return tensor('context', [H, r.queryCount, vd], ['head', 'query', 'd_head'], r.context, {
        tokenAxes: { query: 'input' },
        description: t.description ?? '',
      });
    return t;
  };
  return stages.map((s): Stage => {
    let tensors = s.tensors.map(fix);
    let formula = s.formula;
    if (s.kind === 'qkv') {
      tensors = [
        tensor('query_input', [r.queryCount, r.queryInputDim], ['token', 'feature'], r.queryInput, {
          tokenAxes: IN,
          description: 'The query input of the layer',
        }),
        ...tensors,
      ];
    } else if (s.kind === 'score') {
      formula = words.scoresFormula;
      if (r.scale && r.scale.length > 1)
        tensors = [
          ...tensors,
          tensor('v', [r.scale.length], ['feature'], r.scale, {
            description: 'Learned scale vector v of the additive score',
          }),
        ];
    } else if (s.kind === 'context' && words.contextFormula) {
      formula = words.contextFormula;
      tensors = tensors.map((t) => (t.name === 'output' ? { ...t, description: words.outputDescription! } : t));
    }
    return { ...s, formula, tensors };
  });
}

/** What the output stage needs to know about the model. */
export interface OutputContext {
  readonly T: number;
  readonly topK: number;
  /** 'next-token' unless the model's metadata says 'classes'. */
  readonly kind: 'next-token' | 'classes';
  readonly piece: (id: number) => string;
  readonly label: (c: number) => string;
}

/** The output stage, with next-token predictions when the output is [1, T, vocab] probabilities. */
export function outputStage(
  c: OutputContext,
  output: Float32Array,
  shape: readonly number[],
): { stage: Stage; predictions?: Prediction[] } {
  const { T } = c;
  const V = shape[shape.length - 1]!;
  if (shape.length === 3 && shape[1] === T && c.kind === 'next-token') {
    const k = Math.min(c.topK, V);
    let top: { p: Float32Array; id: Int32Array } | undefined;
    tf.tidy(() => {
      // The output is already probabilities (softmax layer): take logs so topKRows' softmax gives them back.
      const probs = tf.tensor2d(output, [T, V]);
      top = topKRows(tf.log(tf.maximum(probs, 1e-30)) as tf.Tensor2D, k);
    });
    const topP = Float32Array.from(top!.id, (id, j) => output[Math.floor(j / k) * V + id]!); // the model's own probabilities
    return {
      stage: {
        id: 'output',
        kind: 'output',
        ...tfjsLesson.nextToken(V, k),
        tensors: [
          tensor('probabilities', [T, V], ['token', 'vocab'], output, {
            tokenAxes: IN,
            description: 'Output probabilities per position',
          }),
          ...topKTensors(T, k, topP, top!.id, IN, 'tokens'),
        ],
      },
      predictions: topKPredictions(top!.id, topP, T, k, c.piece),
    };
  }
  if (shape.length === 2) {
    const order = [...output.keys()].sort((a, b) => output[b]! - output[a]!).slice(0, Math.min(c.topK, V));
    return {
      stage: {
        id: 'output',
        kind: 'output',
        ...tfjsLesson.classes(
          V,
          order.map((i) => ({ label: c.label(i), p: output[i]! })),
        ),
        tensors: [
          tensor('output', [V], ['class'], output, {
            description: `Output for each class: ${[...Array(V).keys()].map(c.label).join(', ')}`,
          }),
        ],
      },
    };
  }
  const axes = shape.slice(1).map((_, i) => (i === 0 && shape[1] === T ? 'token' : `axis${i + 1}`));
  return {
    stage: {
      id: 'output',
      kind: 'output',
      ...tfjsLesson.output(shape),
      tensors: [tensor('output', shape.slice(1), axes, output, shape[1] === T ? { tokenAxes: IN } : {})],
    },
  };
}
