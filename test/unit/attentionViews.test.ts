// The pure parts of the head, text and neuron views (webview/attentionViews.ts) on real runs: the
// head view's line opacities are the weights (dimmed by DIMMED off the hovered token; hidden heads
// and masked pairs drawn not at all), the text view's shading is the weights row (or the mean of
// heads) with masked keys marked, the text is the source's, and the head colours keep their
// contrast on the themes' backgrounds.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { attentionBlocks } from '../../shared/navigation';
import type { Trace } from '../../shared/trace';
import {
  contrast,
  DIMMED,
  HEAD_PALETTE,
  headLines,
  isLightColour,
  textPieces,
  textShading,
  weightsCube,
} from '../../webview/attentionViews';

const traces = new Map<string, Trace>();
async function run(id: string, text: string): Promise<Trace> {
  const key = `${id}|${text}`;
  if (!traces.has(key)) traces.set(key, await (await getModel(id)).run(text));
  return traces.get(key)!;
}
before(async () => {
  await initBackend();
});

test('head view: every drawn line of every shown head has opacity = its weight; masked pairs and hidden heads have none', async () => {
  const t = await run('tinystories-656k', 'Once upon a time, there was a little dog.');
  const b = attentionBlocks(t)[1]!;
  const c = weightsCube(b)!;
  const [H, T] = b.weights.shape as [number, number];
  assert.equal(c.heads, H);
  assert.equal(c.rows, T);
  const all = new Set(Array.from({ length: H }, (_, i) => i));
  const lines = headLines(c, all);
  let expected = 0;
  for (let h = 0; h < H; h++)
    for (let q = 0; q < T; q++)
      for (let k = 0; k < T; k++) {
        const w = b.weights.data[(h * T + q) * T + k]!;
        if (k > q) assert.equal(w, 0, 'a future key has weight 0');
        else if (w > 0) expected++;
      }
  assert.equal(lines.length, expected);
  for (const l of lines) {
    assert.ok(l.key <= l.query, 'no line to a future key');
    assert.equal(l.weight, b.weights.data[(l.head * T + l.query) * T + l.key]);
    assert.equal(l.alpha, Math.min(1, l.weight));
  }
  // Hide heads 1 and 6: their lines go, the others stay as they were.
  const shown = new Set([0, 2, 3, 4, 5, 7]);
  const some = headLines(c, shown);
  assert.ok(some.every((l) => shown.has(l.head)));
  assert.equal(some.length, lines.filter((l) => shown.has(l.head)).length);
  // Hover query 5: its lines keep their weight as opacity, every other line is dimmed.
  const f = headLines(c, all, { side: 'query', index: 5 });
  f.forEach((l, i) => {
    assert.equal(l.weight, lines[i]!.weight);
    assert.equal(l.alpha, l.query === 5 ? l.weight : l.weight * DIMMED);
  });
  const byKey = headLines(c, all, { side: 'key', index: 0 });
  byKey.forEach((l) => assert.equal(l.alpha, l.key === 0 ? l.weight : l.weight * DIMMED));
});

test('head view: cross-attention rows are the output tokens, columns the input; a decoder step is one row', async () => {
  const t = await run('dates-transformer', 'Monday 23rd of November 2026');
  const cross = attentionBlocks(t).find((b) => b.role === 'cross' && b.weights.shape.length === 3)!;
  const c = weightsCube(cross)!;
  assert.equal(c.rows, t.outputTokens!.length);
  assert.equal(c.cols, t.tokens.length);
  assert.deepEqual(c.colLabels.slice(0, 6), ['M', 'o', 'n', 'd', 'a', 'y']);
  assert.equal(c.rowLabels[0], t.outputTokens![0]!.text);
  const s2s = await run('seq2seq-dates-dot', '23/11/2026');
  const step = attentionBlocks(s2s).find((b) => b.step === 2 && b.weights.shape.length === 1)!;
  const sc = weightsCube(step)!;
  assert.deepEqual([sc.heads, sc.rows, sc.cols], [1, 1, s2s.tokens.length]);
  assert.deepEqual(sc.rowLabels, ['step 3']);
  const l = headLines(sc, new Set([0]));
  for (const x of l) assert.equal(x.alpha, step.weights.data[x.key]);
});

test('text view: the shading of each key is the weights row (one head, or the mean of heads); masked keys marked, zero weights unshaded', async () => {
  const t = await run('tinystories-656k', 'Once upon a time, there was a little dog.');
  const b = attentionBlocks(t)[0]!;
  const c = weightsCube(b)!;
  const [H, T] = b.weights.shape as [number, number];
  for (const row of [0, 4, T - 1]) {
    const { shades, max } = textShading(c, 3, row);
    const w = Array.from({ length: T }, (_, k) => b.weights.data[(3 * T + row) * T + k]!);
    assert.deepEqual(
      shades.map((s) => s.weight),
      w,
    );
    assert.equal(max, Math.max(...w));
    shades.forEach((s, k) => {
      assert.equal(s.masked, b.mask!.data[row * T + k] === 0);
      assert.equal(s.masked, k > row, 'causal: the future is not attendable');
      assert.equal(s.alpha, s.masked || s.weight === 0 ? 0 : s.weight / max);
    });
    const mean = textShading(c, -1, row).shades;
    for (let k = 0; k < T; k++) {
      let m = 0;
      for (let h = 0; h < H; h++) m += b.weights.data[(h * T + row) * T + k]!;
      assert.ok(Math.abs(mean[k]!.weight - m / H) < 1e-7);
    }
  }
});

test('text view: tokens keep the source text and its whitespace; special tokens are chips', async () => {
  const text = 'Once upon a time,\n  there was a dog.\tThe end.';
  for (const id of ['tinystories-656k', 'english-encoder', 'dates-transformer']) {
    const t = await run(id, text);
    const pieces = textPieces(t.tokens, t.text);
    const plain = pieces
      .filter((p) => !(p.kind === 'token' && p.special))
      .map((p) => p.text)
      .join('');
    assert.equal(plain, t.text, `${id}: the text reads as the source`);
    const chips = pieces.filter((p) => p.kind === 'token' && p.special).map((p) => p.text);
    for (const tok of t.tokens.filter((x) => x.start < 0))
      assert.ok(chips.includes(tok.text), `${id}: ${tok.text} chip`);
    assert.ok(chips.length >= 1, `${id}: a special token`);
    const indices = pieces.flatMap((p) => (p.kind === 'token' ? [p.index] : []));
    assert.deepEqual(
      indices,
      t.tokens.map((_, i) => i),
      `${id}: one span per token, in order`,
    );
  }
});

test('head colours: at least 3:1 against the dark, light and high-contrast editor backgrounds, and all different', () => {
  for (const c of HEAD_PALETTE.dark)
    for (const bg of ['#1f1f1f', '#1e1e1e', '#000000'])
      assert.ok(contrast(c, bg) >= 3, `${c} on ${bg}: ${contrast(c, bg).toFixed(2)}`);
  for (const c of HEAD_PALETTE.light)
    for (const bg of ['#ffffff', '#f8f8f8'])
      assert.ok(contrast(c, bg) >= 3, `${c} on ${bg}: ${contrast(c, bg).toFixed(2)}`);
  assert.equal(new Set(HEAD_PALETTE.dark).size, HEAD_PALETTE.dark.length);
  assert.equal(new Set(HEAD_PALETTE.light).size, HEAD_PALETTE.light.length);
  assert.equal(isLightColour('#cccccc'), true);
  assert.equal(isLightColour('rgb(31, 31, 31)'), false);
  assert.equal(isLightColour('#fff'), true);
  assert.equal(isLightColour('#000000'), false);
});
