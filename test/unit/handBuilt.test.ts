// A hand-built config runs through the same attention maths; the classic three-token example is
// checked against numbers worked out by hand (independent of our code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { parseAttentionConfig, type HandBuiltConfig } from '../../src/model/formats/attentionConfig';
import { runHandBuilt } from '../../src/model/families/handBuilt/model';
import { findTensor } from '../../shared/trace';

const sample = (name: string): HandBuiltConfig => {
  const r = parseAttentionConfig(readFileSync(path.join(__dirname, '..', '..', 'samples', 'configs', name), 'utf8'));
  assert.ok(r.config && r.config.kind === 'hand-built');
  return r.config;
};

test('three-token dot-product example matches the hand computation', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const trace = runHandBuilt(sample('dot-product-3-tokens.attention.json'));
  assert.equal(tf.memory().numTensors, before);
  const st = (id: string) => trace.stages.find((s) => s.id === id)!;
  // By hand: Q = [[1,0,2],[2,2,2],[2,1,3]], K = [[0,1,1],[4,4,0],[2,3,1]], V = [[1,2,3],[2,8,0],[2,6,3]].
  assert.deepEqual([...findTensor(st('qkv'), 'Q')!.data], [1, 0, 2, 2, 2, 2, 2, 1, 3]);
  assert.deepEqual([...findTensor(st('qkv'), 'K')!.data], [0, 1, 1, 4, 4, 0, 2, 3, 1]);
  assert.deepEqual([...findTensor(st('qkv'), 'V')!.data], [1, 2, 3, 2, 8, 0, 2, 6, 3]);
  // Scores q·k for token 1: [2, 4, 4].
  assert.deepEqual([...findTensor(st('scores'), 'scores')!.data.slice(0, 3)], [2, 4, 4]);
  const e = [Math.exp(2), Math.exp(4), Math.exp(4)];
  const z = e[0]! + e[1]! + e[2]!;
  const w = findTensor(st('weights'), 'weights')!.data;
  e.forEach((x, i) => assert.ok(Math.abs(w[i]! - x / z) < 1e-6));
  const c = findTensor(st('context'), 'context')!.data;
  [1, 2, 3].forEach((_, j) =>
    assert.ok(Math.abs(c[j]! - (e[0]! * [1, 2, 3][j]! + e[1]! * [2, 8, 0][j]! + e[2]! * [2, 6, 3][j]!) / z) < 1e-5),
  );
});

test('cross-attention, additive and causal sparsemax samples run and keep their invariants', async () => {
  await initBackend();
  const cross = runHandBuilt(sample('encoder-decoder-context.attention.json'));
  assert.equal(cross.outputTokens?.length, 1);
  const cw = findTensor(cross.stages.find((s) => s.id === 'weights')!, 'weights')!;
  assert.deepEqual([...cw.shape], [1, 1, 3]);
  assert.ok(cw.data[2]! > cw.data[0]! && cw.data[2]! > cw.data[1]!, 'the decoder state matches h3 best');
  const add = runHandBuilt(sample('additive-bahdanau.attention.json'));
  assert.equal(add.stages.find((s) => s.id === 'scores')!.attention!.score, 'additive');
  const sp = runHandBuilt(sample('sparsemax-vs-softmax.attention.json'));
  const w = findTensor(sp.stages.find((s) => s.id === 'weights')!, 'weights')!.data;
  for (let i = 0; i < 5; i++) {
    let sum = 0;
    for (let j = 0; j < 5; j++) {
      if (j > i) assert.equal(w[i * 5 + j], 0, 'causal: future keys get exactly 0');
      sum += w[i * 5 + j]!;
    }
    assert.ok(Math.abs(sum - 1) < 1e-6);
  }
  assert.ok(
    [...w].filter((x, k) => x === 0 && k % 5 <= Math.floor(k / 5)).length > 0,
    'sparsemax zeroes some allowed keys',
  );
});
