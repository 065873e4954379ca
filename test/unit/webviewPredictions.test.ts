// Predictions as the panel and the CLI label them: each row names the token it belongs to (a decoder
// step and the output it read, a masked position, the token before a next-token guess), vocab axes
// name their tokens, the decoded output of an encoder–decoder, and ids never drawn as a heatmap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodedOutput, predictionKind, predictionRowLabel, toMatrix } from '../../shared/tensorView';
import { tensor, type Stage, type Trace } from '../../shared/trace';
import { shownTensors } from '../../webview/matrices';
import { makeTrace } from './traceFixture';

const out = (text: string, id: number, special = false) => ({ text, id, start: -1, end: -1, special });

function encDec(): Trace {
  const base = makeTrace(1, 1, 3);
  return {
    ...base,
    // The fixture's self-attention is causal; an encoder–decoder's kind comes from its outputs.
    outputTokens: [out('2', 5), out('0', 3), out('▁x', 7), out('</s>', 1, true)],
    predictions: [0, 1, 2, 3].map((position) => ({
      position,
      top: [
        { text: ['2', '0', '▁x', '</s>'][position]!, id: [5, 3, 7, 1][position]!, p: 0.9 },
        { text: '9', id: 2, p: 0.1 },
      ],
    })),
  };
}

test('an encoder–decoder row is its step and the output token it read, not the token it produced', () => {
  const t = encDec();
  assert.equal(predictionKind(t), 'decoder');
  assert.equal(predictionRowLabel(t, 0), 'step 1, after the start token');
  assert.equal(predictionRowLabel(t, 1), 'step 2, after 2');
  assert.equal(predictionRowLabel(t, 3), 'step 4, after ▁x');
  assert.equal(decodedOutput(t), '20 x');
});

test('without a causal mask the predictions are a masked LM’s, at the token; with one, after it', () => {
  const causal = makeTrace(1, 1, 3);
  assert.equal(predictionKind(causal), 'next-token');
  assert.equal(predictionRowLabel(causal, 2), 'sat');
  const bidirectional: Trace = {
    ...causal,
    stages: causal.stages.map((s) => (s.attention ? { ...s, attention: { ...s.attention, causal: false } } : s)),
  };
  assert.equal(predictionKind(bidirectional), 'masked');
  assert.equal(decodedOutput(causal), undefined);
});

test('logit columns over a small vocabulary are the tokens they score', () => {
  const t = encDec();
  const logits = tensor('logits', [8], ['vocab'], new Float32Array(8));
  const m = toMatrix(t, logits, 0);
  assert.deepEqual(m.colLabels, ['#0', '</s>', '9', '0', '#4', '2', '#6', '▁x']);
});

test('top-k ids and probabilities are no heatmaps (the predictions table shows them)', () => {
  const stage: Stage = {
    id: 'output',
    kind: 'output',
    title: 'Output',
    formula: '',
    explanation: '',
    tensors: [
      tensor('hidden', [3, 2], ['token', 'd_model'], new Float32Array(6)),
      tensor('top_p', [3, 2], ['token', 'rank'], new Float32Array(6)),
      tensor('top_id', [3, 2], ['token', 'rank'], new Float32Array(6)),
    ],
  };
  assert.deepEqual(
    shownTensors(stage).map((x) => x.name),
    ['hidden'],
  );
});

test('the stage bar follows the architecture: a causal stack is decoder layers, an encoder–decoder has three attention parts', async () => {
  const { sectionOf } = await import('../../webview/components/pipeline');
  const causal = makeTrace(1, 1, 3);
  assert.deepEqual(
    causal.stages.map((s) => sectionOf(causal, s)),
    ['tokens', 'embedding', 'decoder layers', 'decoder layers'],
  );
  const bidirectional: Trace = {
    ...causal,
    stages: causal.stages.map((s) => (s.attention ? { ...s, attention: { ...s.attention, causal: false } } : s)),
  };
  assert.equal(sectionOf(bidirectional, bidirectional.stages[2]!), 'encoder layers');
  const t = encDec();
  const self = causal.stages[3]!;
  const attn = (queries: 'input' | 'output', keys: 'input' | 'output'): Stage => ({
    ...self,
    attention: { ...self.attention!, queries, keys },
  });
  assert.equal(sectionOf(t, attn('input', 'input')), 'encoder self-attention');
  assert.equal(sectionOf(t, attn('output', 'output')), 'decoder self-attention');
  assert.equal(sectionOf(t, attn('output', 'input')), 'cross-attention');
  // A seq2seq decoder step's state update (its query for attention) is the decoder's part.
  assert.equal(sectionOf(t, { ...attn('output', 'input'), kind: 'decoder-step', step: 0 }), 'decoder');
});

test('a new run keeps the stage (by id, else kind and layer), head and view where they still exist', async () => {
  const { carryCursor } = await import('../../shared/derived');
  const two = makeTrace(2, 2, 3);
  const one = makeTrace(1, 1, 3);
  // Layer 1's weights (stage 5) with head 1 in the lines view.
  assert.deepEqual(carryCursor(two, { stage: 5, head: 1, view: 'lines' }, two), { stage: 5, head: 1, view: 'lines' });
  // One layer, one head: the stage does not exist, the head neither; the view stays.
  assert.deepEqual(carryCursor(two, { stage: 5, head: 1, view: 'lines' }, one), { stage: 0, head: 0, view: 'lines' });
  assert.deepEqual(carryCursor(two, { stage: 3, head: -1, view: 'heatmap' }, one), {
    stage: 3,
    head: -1,
    view: 'heatmap',
  });
  assert.deepEqual(carryCursor(undefined, { stage: 3, head: 1, view: 'grid' }, one), {
    stage: 0,
    head: 0,
    view: 'grid',
  });
});
