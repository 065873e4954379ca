// What the editor hover and decorations read: the cursor's attention block, and only
// self-attention over the input text (the editor shows the input, not the decoder's output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attendedBy, bar, tokenAt } from '../../src/hover/attends';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import { makeTrace } from './traceFixture';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';

test('the top-k keys of a query, per head and as the mean of heads', () => {
  const t = makeTrace(2, 2, 3);
  const c = { ...DEFAULT_CURSOR, stage: t.stages.findIndex((s) => s.id === 'L1.scores') };
  const a = attendedBy(t, c, 2, 2)!;
  assert.equal(a.block.id, 'L1.weights');
  assert.equal(a.stage.id, 'L1.weights');
  assert.equal(a.stageIndex, t.stages.indexOf(a.stage));
  // Causal uniform weights: query 2 reads keys 0, 1, 2 at 1/3 each; ties keep key order.
  assert.deepEqual(
    a.entries.map((e) => e.key),
    [0, 1],
  );
  assert.ok(Math.abs(a.entries[0]!.weight - 1 / 3) < 1e-6);
  assert.equal(a.entries[0]!.token, t.tokens[0]);
  const mean = attendedBy(t, { ...c, head: -1 }, 1, 5)!;
  assert.equal(mean.head, -1);
  assert.deepEqual(
    [...mean.row].map((x) => +x.toFixed(4)),
    [0.5, 0.5, 0],
  );
  assert.equal(attendedBy(t, c, 3, 2), undefined, 'no such query');
  assert.equal(tokenAt(t.tokens, 5), 1);
  assert.equal(tokenAt(t.tokens, 3), -1, 'between tokens');
  assert.equal(bar(0.5, 4), '██░░');
});

test('dates-transformer: the encoder’s blocks are hovered, the decoder’s are not', async () => {
  await initBackend();
  const t = await (await getModel('dates-transformer')).run('Monday 23rd of November 2026');
  const at = (id: string) => ({ ...DEFAULT_CURSOR, stage: t.stages.findIndex((s) => s.id === id) });
  assert.equal(attendedBy(t, at('enc1.qkv'), 0, 3)!.block.id, 'enc1.weights');
  // Before blocks, a (layer, step) search gave the encoder's layer 0 for the decoder's layer 0.
  assert.equal(attendedBy(t, at('dec0.cross.qkv'), 0, 3), undefined);
  assert.equal(attendedBy(t, at('dec0.self.weights'), 0, 3), undefined);
});

test('cross-attention from the input’s side: which output tokens read an input token, and a focused output’s row', async () => {
  const { crossRow, readBy } = await import('../../src/hover/attends');
  await initBackend();
  const trace = await (await getModel('dates-transformer')).run('23/11/2026');
  const at = trace.stages.findIndex(
    (s) => s.kind === 'normalise' && s.attention?.queries === 'output' && s.attention.keys === 'input',
  );
  assert.ok(at > 0, 'the model has cross-attention weights');
  const c = { ...DEFAULT_CURSOR, stage: at, head: 1 };
  assert.equal(attendedBy(trace, c, 3, 5), undefined, 'not self-attention over the input');
  const w = trace.stages[at]!.tensors.find((t) => t.name === 'weights')!;
  const [, Q, K] = w.shape as [number, number, number];
  const r = readBy(trace, c, 3, Q)!;
  assert.equal(r.entries.length, Q);
  for (const e of r.entries) {
    assert.equal(e.weight, w.data[(1 * Q + e.query) * K + 3]);
    assert.equal(e.token, trace.outputTokens![e.query]);
  }
  for (let i = 1; i < r.entries.length; i++) assert.ok(r.entries[i - 1]!.weight >= r.entries[i]!.weight);
  const mean = readBy(trace, { ...c, head: -1 }, 3, 1)!;
  const H = w.shape[0]!;
  const top = mean.entries[0]!;
  let s = 0;
  for (let h = 0; h < H; h++) s += w.data[(h * Q + top.query) * K + 3]!;
  assert.ok(Math.abs(top.weight - s / H) < 1e-7);
  assert.equal(crossRow(trace, c), undefined, 'no output token focused');
  const row = crossRow(trace, { ...c, row: 2 })!;
  assert.deepEqual(row.row, w.data.slice((1 * Q + 2) * K, (1 * Q + 3) * K));
  assert.equal(readBy(trace, { ...DEFAULT_CURSOR, stage: 0 }, 3, 5), undefined, 'self-attention stays attendedBy’s');
});
