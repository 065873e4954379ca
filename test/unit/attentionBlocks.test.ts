// attentionBlocks / blockOf on the traces of every built-in model: each attention stage belongs
// to exactly one block, and a block's tensors are the ones its own stages hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { CATALOG } from '../../shared/catalog';
import {
  attentionBlocks,
  blockAt,
  blockOf,
  jumpToPhase,
  moveLayer,
  moveStep,
  type AttentionBlock,
} from '../../shared/navigation';
import { findTensor, type Trace } from '../../shared/trace';
import { DEFAULT_CURSOR } from '../../shared/protocol';

import { sampleTextFor } from './sampleText';

const TEXT: Record<string, string> = {
  'tinystories-656k': 'Once upon a time, there was a little dog.',
  'toy-self-attention': 'The cat sat on the mat.',
  'english-encoder': 'The cat sat on the warm mat.',
  'dates-transformer': 'Monday 23rd of November 2026',
};
const textOf = (id: string): string => TEXT[id] ?? sampleTextFor(id);

const traces = new Map<string, Trace>();
async function traceOf(id: string): Promise<Trace> {
  let t = traces.get(id);
  if (!t) {
    await initBackend();
    t = await (await getModel(id)).run(textOf(id));
    traces.set(id, t);
  }
  return t;
}

const ATTENTION_KINDS = new Set(['qkv', 'score', 'normalise', 'context']);

function checkBlock(t: Trace, b: AttentionBlock): void {
  const parts = [b.stages.qkv, b.stages.score, b.stages.normalise, b.stages.context].filter((s) => s !== undefined);
  for (const s of parts) {
    assert.equal(blockOf(t, s), b, `${s.id} → ${b.id}`);
    assert.equal(s.layer, b.layer, `${s.id} layer`);
    assert.equal(s.step, b.step, `${s.id} step`);
    assert.equal(s.attention?.queries, b.info.queries, `${s.id} queries`);
    assert.equal(s.attention?.keys, b.info.keys, `${s.id} keys`);
  }
  assert.equal(b.id, b.stages.normalise.id);
  assert.equal(b.weights, findTensor(b.stages.normalise, 'weights'));
  assert.equal(b.role, b.info.queries === b.info.keys ? 'self' : 'cross');
  assert.equal(b.queryTokens, b.info.queries === 'input' ? t.tokens : t.outputTokens);
  assert.equal(b.keyTokens, b.info.keys === 'input' ? t.tokens : t.outputTokens);
  if (b.stages.qkv)
    for (const n of ['Q', 'K', 'V'] as const)
      assert.equal(b[n.toLowerCase() as 'q' | 'k' | 'v'], findTensor(b.stages.qkv, n), `${b.id} ${n}`);
  if (b.scores) assert.equal(b.scores, findTensor(b.stages.score!, 'scores'));
  if (b.context) assert.equal(b.context, findTensor(b.stages.context!, 'context'));
  // Per-head weights are [head, query, key] over the block's own token lists.
  if (b.weights.shape.length === 3) {
    assert.equal(b.weights.shape[1], b.queryTokens.length, `${b.id} queries`);
    assert.equal(b.weights.shape[2], b.keyTokens.length, `${b.id} keys`);
  }
  if (b.k && b.k.shape.length === 3) assert.equal(b.k.shape[1], b.keyTokens.length, `${b.id} K rows are the keys`);
  if (b.mask) assert.deepEqual(b.mask.shape, [b.queryTokens.length, b.keyTokens.length]);
}

for (const { id } of CATALOG) {
  test(`${id}: every attention stage is in exactly one self-consistent block`, async () => {
    const t = await traceOf(id);
    const blocks = attentionBlocks(t);
    for (const b of blocks) checkBlock(t, b);
    const covered = new Set(
      blocks.flatMap((b) => [b.stages.qkv, b.stages.score, b.stages.normalise, b.stages.context]),
    );
    for (const s of t.stages)
      if (ATTENTION_KINDS.has(s.kind) && s.attention) assert.ok(covered.has(s), `${s.id} is in a block`);
    assert.equal(new Set(blocks.map((b) => b.id)).size, blocks.length, 'block ids are unique');
  });
}

test('tinystories-656k: one causal block per layer with its mask, grouped-query K/V', async () => {
  const t = await traceOf('tinystories-656k');
  const blocks = attentionBlocks(t);
  assert.deepEqual(
    blocks.map((b) => b.id),
    ['L0.weights', 'L1.weights'],
  );
  for (const b of blocks) {
    assert.ok(b.mask && b.q && b.k && b.v && b.scores && b.context);
    assert.equal(b.q.shape[0], 8);
    assert.equal(b.k.shape[0], 4);
    assert.deepEqual(b.info.kvHeadOf, [0, 0, 1, 1, 2, 2, 3, 3]);
    const n = t.tokens.length;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(b.mask.data[i * n + j], j <= i ? 1 : 0);
  }
  // A layer's input stage is outside any block; the hover reads that layer's block.
  const input = t.stages.findIndex((s) => s.id === 'L1.input');
  assert.equal(blockOf(t, t.stages[input]!), undefined);
  assert.equal(blockAt(t, { ...DEFAULT_CURSOR, stage: input })!.id, 'L1.weights');
});

test('dates-transformer: encoder, decoder self- and cross-attention of one layer are three blocks', async () => {
  const t = await traceOf('dates-transformer');
  const blocks = attentionBlocks(t);
  assert.deepEqual(
    blocks.map((b) => `${b.id}:${b.role}`),
    [
      'enc0.weights:self',
      'enc1.weights:self',
      'dec0.self.weights:self',
      'dec0.cross.weights:cross',
      'dec1.self.weights:self',
      'dec1.cross.weights:cross',
    ],
  );
  // Searching by (layer, step) would have found enc0's Q/K/V for the decoder's layer 0.
  const cross = blockOf(t, t.stages.find((s) => s.id === 'dec0.cross.qkv')!)!;
  assert.equal(cross.id, 'dec0.cross.weights');
  assert.equal(cross.q!.shape[1], t.outputTokens!.length);
  assert.equal(cross.k!.shape[1], t.tokens.length);
  assert.equal(cross.mask, undefined);
  const self = blockOf(t, t.stages.find((s) => s.id === 'dec0.self.context')!)!;
  assert.equal(self.id, 'dec0.self.weights');
  assert.ok(self.mask, 'the decoder self-attention is causal');
  assert.equal(blockOf(t, t.stages.find((s) => s.id === 'enc0.scores')!)!.mask, undefined);
});

test('seq2seq-dates-additive: one cross block per decoder step, and the alignment', async () => {
  const t = await traceOf('seq2seq-dates-additive');
  const blocks = attentionBlocks(t);
  const steps = t.outputTokens!.length;
  assert.equal(blocks.length, steps + 1);
  blocks.slice(0, steps).forEach((b, i) => {
    assert.equal(b.id, `dec${i}.weights`);
    assert.equal(b.step, i);
    assert.equal(b.role, 'cross');
    assert.ok(b.scores && b.context && !b.q);
  });
  assert.equal(blocks[steps]!.id, 'alignment');
  assert.deepEqual(blocks[steps]!.weights.shape, [steps, t.tokens.length]);
});

test('seq2seq-dates-none: no attention, no blocks', async () => {
  const t = await traceOf('seq2seq-dates-none');
  assert.equal(attentionBlocks(t).length, 0);
  assert.equal(blockAt(t, DEFAULT_CURSOR), undefined);
});

test('dates-transformer: layer steps and phase jumps stay in the same attention', async () => {
  const t = await traceOf('dates-transformer');
  const at = (id: string) => ({ ...DEFAULT_CURSOR, stage: t.stages.findIndex((s) => s.id === id) });
  const idOf = (c: { stage: number }) => t.stages[c.stage]!.id;
  assert.equal(idOf(moveLayer(t, at('dec0.cross.weights'), 1)), 'dec1.cross.weights');
  assert.equal(idOf(moveLayer(t, at('dec1.self.scores'), 1)), 'dec0.self.scores', 'wraps around');
  assert.equal(idOf(moveLayer(t, at('enc0.qkv'), 1)), 'enc1.qkv');
  assert.equal(idOf(jumpToPhase(t, at('dec0.cross.qkv'), 'normalise')), 'dec0.cross.weights');
  assert.equal(idOf(jumpToPhase(t, at('dec1.self.weights'), 'scores')), 'dec1.self.scores');
  // Outside a block, a phase jump keeps today's rule (same layer, else the first).
  assert.equal(idOf(jumpToPhase(t, at('enc1.output'), 'normalise')), 'enc1.weights');
});

test('seq2seq-dates-additive: step moves keep the part of the step’s attention', async () => {
  const t = await traceOf('seq2seq-dates-additive');
  const at = (id: string) => ({ ...DEFAULT_CURSOR, stage: t.stages.findIndex((s) => s.id === id) });
  assert.equal(t.stages[moveStep(t, at('dec0.scores'), 1).stage]!.id, 'dec1.scores');
  assert.equal(t.stages[moveStep(t, at('dec3.context'), -1).stage]!.id, 'dec2.context');
});
