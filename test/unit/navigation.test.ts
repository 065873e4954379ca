import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attentionBlocks,
  blockAt,
  blockOf,
  headsOf,
  jumpToPhase,
  layersOf,
  moveHead,
  moveLayer,
  moveStage,
  phaseOf,
  weightsStageFor,
} from '../../shared/navigation';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import { makeTrace } from './traceFixture';

test('stage steps clamp at both ends', () => {
  const t = makeTrace();
  assert.equal(moveStage(t, DEFAULT_CURSOR, -1).stage, 0);
  assert.equal(moveStage(t, { ...DEFAULT_CURSOR, stage: t.stages.length - 1 }, 1).stage, t.stages.length - 1);
  assert.equal(moveStage(t, DEFAULT_CURSOR, 2).stage, 2);
});

test('layer steps keep the stage kind and wrap around', () => {
  const t = makeTrace(3);
  const at = t.stages.findIndex((s) => s.id === 'L0.weights');
  const next = moveLayer(t, { ...DEFAULT_CURSOR, stage: at }, 1);
  assert.equal(t.stages[next.stage]!.id, 'L1.weights');
  const wrapped = moveLayer(t, { ...DEFAULT_CURSOR, stage: at }, -1);
  assert.equal(t.stages[wrapped.stage]!.id, 'L2.weights');
  assert.deepEqual(layersOf(t), [0, 1, 2]);
});

test('head steps cycle through every head and the mean of heads', () => {
  const t = makeTrace(1, 3);
  assert.equal(headsOf(t), 3);
  const seen: number[] = [];
  let c = DEFAULT_CURSOR;
  for (let i = 0; i < 4; i++) {
    seen.push(c.head);
    c = moveHead(t, c, 1);
  }
  assert.deepEqual(seen, [0, 1, 2, -1]);
  assert.equal(c.head, 0);
});

test('phases jump within the current layer and hover reads that layer’s weights', () => {
  const t = makeTrace(2);
  const at = t.stages.findIndex((s) => s.id === 'L1.scores');
  const c = jumpToPhase(t, { ...DEFAULT_CURSOR, stage: at }, 'normalise');
  assert.equal(t.stages[c.stage]!.id, 'L1.weights');
  assert.equal(weightsStageFor(t, { ...DEFAULT_CURSOR, stage: at })!.id, 'L1.weights');
  assert.equal(weightsStageFor(t, DEFAULT_CURSOR)!.id, 'L0.weights');
  assert.equal(phaseOf('qkv'), 'Q/K/V');
});

test('attention blocks of a hand-made trace: scores and weights of one layer form one block', () => {
  const t = makeTrace(2);
  const blocks = attentionBlocks(t);
  assert.deepEqual(
    blocks.map((b) => b.id),
    ['L0.weights', 'L1.weights'],
  );
  assert.equal(attentionBlocks(t), blocks, 'memoised per trace');
  const scores = t.stages.find((s) => s.id === 'L1.scores')!;
  assert.equal(blockOf(t, scores), blocks[1]);
  assert.equal(blocks[1]!.scores, scores.tensors[0]);
  assert.equal(blockOf(t, t.stages[0]!), undefined);
  assert.equal(blockAt(t, { ...DEFAULT_CURSOR, stage: 1 })!.id, 'L0.weights');
});
