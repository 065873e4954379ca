// The bottleneck models (models/seq2seq-reverse, scripts/train/bottleneck.py): the accuracy by length
// the chart shows is what the training script measured — on the slice of held-out strings the script
// kept with its torch predictions, the tfjs models predict the same strings, and those predictions
// score as the script scored them — and the chart stage carries exactly those numbers, labelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { builtinReverseDir } from '../../src/model/families/seq2seq/model';
import { findTensor, type Trace } from '../../shared/trace';
import { toMatrix } from '../../shared/tensorView';

interface SliceRow {
  readonly bucket: string;
  readonly input: string;
  readonly target: string;
  readonly predicted: string;
}
interface Accuracy {
  readonly buckets: string[];
  readonly per_bucket: number;
  readonly models: Record<'additive' | 'none', { exact: number[]; char: number[]; n: number[]; slice: SliceRow[] }>;
  readonly training: Record<'additive' | 'none', { steps: number }>;
}

const ACC = JSON.parse(fs.readFileSync(path.join(builtinReverseDir(), 'accuracy-by-length.json'), 'utf8')) as Accuracy;

/** scripts/train/bottleneck.py's greedy decoding limit (MAX_OUTPUT = MAX_LEN + 2). */
const SCRIPT_MAX_OUTPUT = 62;

function decoded(t: Trace): string {
  return t
    .outputTokens!.filter((x) => !x.special)
    .map((x) => x.text)
    .join('');
}

/** The script's per-character accuracy: output character k equals target character k, over the target's length. */
function charAccuracy(pred: string, target: string): number {
  let ok = 0;
  for (let k = 0; k < target.length; k++) if (pred[k] === target[k]) ok++;
  return ok / target.length;
}

test('the JSON is the script’s: six buckets 5–60, both models trained alike, shares consistent', () => {
  assert.deepEqual(ACC.buckets, ['5-10', '11-20', '21-30', '31-40', '41-50', '51-60']);
  assert.equal(ACC.training.additive.steps, ACC.training.none.steps, 'the same number of training steps');
  for (const m of ['additive', 'none'] as const) {
    const r = ACC.models[m];
    assert.equal(r.exact.length, 6);
    r.n.forEach((n) => assert.equal(n, ACC.per_bucket));
    r.exact.forEach((e, k) => assert.ok(e <= r.char[k]! + 1e-12, `${m} ${ACC.buckets[k]}: exact ≤ per-character`));
    assert.ok(r.slice.length >= 12);
    for (const row of r.slice) {
      const [lo, hi] = row.bucket.split('-').map(Number) as [number, number];
      assert.ok(row.input.length >= lo && row.input.length <= hi, `${row.input} is in bucket ${row.bucket}`);
      assert.equal(row.target, [...row.input].reverse().join(''));
    }
  }
});

for (const m of ['additive', 'none'] as const) {
  test(`${m}: the tfjs model predicts what torch predicted on the script's slice, and scores the same`, async () => {
    await initBackend();
    const model = await getModel(`seq2seq-reverse-${m}`);
    const rows = ACC.models[m].slice;
    let exactTf = 0;
    let exactTorch = 0;
    let charTf = 0;
    let charTorch = 0;
    const before = tf.memory().numTensors;
    for (const row of rows) {
      // The script decodes at most MAX_OUTPUT = 62 characters (trained max 60 + 2), the extension 82: compare within 62.
      const got = decoded(await model.run(row.input)).slice(0, SCRIPT_MAX_OUTPUT);
      assert.equal(got, row.predicted, `${m} on ${row.input}: tfjs ${got} vs torch ${row.predicted}`);
      exactTf += got === row.target ? 1 : 0;
      exactTorch += row.predicted === row.target ? 1 : 0;
      charTf += charAccuracy(got, row.target);
      charTorch += charAccuracy(row.predicted, row.target);
    }
    assert.equal(tf.memory().numTensors, before, 'runs leave no tensor behind');
    assert.equal(exactTf, exactTorch);
    assert.ok(Math.abs(charTf - charTorch) < 1e-9);
    console.log(
      `${m}: slice of ${rows.length}: exact ${((100 * exactTf) / rows.length).toFixed(1)}%, per character ${((100 * charTf) / rows.length).toFixed(1)}%`,
    );
  });
}

test('the chart stage: [model, input length] curves of exactly the JSON’s numbers, labelled', async () => {
  await initBackend();
  const model = await getModel('seq2seq-reverse-none');
  const tr = await model.run('attention');
  assert.equal(decoded(tr).length > 0, true);
  const st = tr.stages[tr.stages.length - 1]!;
  assert.equal(st.id, 'accuracy-by-length');
  assert.equal(st.kind, 'output');
  assert.equal(st.title, 'Accuracy against input length: attention against no attention');
  for (const [name, key] of [
    ['exact match', 'exact'],
    ['per-character accuracy', 'char'],
  ] as const) {
    const t = findTensor(st, name)!;
    assert.equal(t.plot, 'curves');
    assert.deepEqual(t.axes, ['model', 'input length']);
    assert.deepEqual(t.shape, [2, 6]);
    const m = toMatrix(tr, t, 0);
    assert.deepEqual(m.rowLabels, ['additive attention', 'no attention']);
    assert.deepEqual(m.colLabels, ['5–10', '11–20', '21–30', '31–40', '41–50', '51–60']);
    const want = [...ACC.models.additive[key], ...ACC.models.none[key]];
    want.forEach((v, i) => assert.ok(Math.abs(t.data[i]! - v) < 1e-6, `${name}[${i}] = ${v}`));
  }
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  assert.ok(st.explanation.includes(pct(ACC.models.none.exact[5]!)), 'the text quotes the measured numbers');
  assert.ok(st.explanation.includes(pct(ACC.models.additive.exact[5]!)));
  // The attention model carries the same chart; the none model explains its bottleneck.
  const tra = await (await getModel('seq2seq-reverse-additive')).run('attention');
  assert.equal(tra.stages[tra.stages.length - 1]!.id, 'accuracy-by-length');
  assert.ok(tr.stages.some((x) => x.id === 'bottleneck'));
  assert.equal(decoded(tra), 'noitnetta');
});

test('bad input to the reverse models: capitals and digits are reported as <unk>; empty input has its own message', async () => {
  await initBackend();
  const model = await getModel('seq2seq-reverse-additive');
  const tr = await model.run('Attention 2');
  assert.ok(tr.warnings?.some((w) => /not in the model's vocabulary/.test(w) && /'A'/.test(w)));
  await assert.rejects(model.run('   '), /lower-case letters to reverse/);
});
