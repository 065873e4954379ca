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
