// The traffic forecasters against an independent numpy forward pass
// (scripts/reference/traffic_ref.py → test/fixtures/traffic/<variant>.json), and the CSV reading's
// messages for bad input. Data: samples/traffic (John Hogue, Metro Interstate Traffic Volume, UCI ML
// Repository, CC BY 4.0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { builtinTrafficDir, loadTraffic, TRAFFIC_VARIANTS } from '../../src/model/families/traffic/model';
import { parseTrafficInput, TRAFFIC_LIMITS } from '../../src/model/families/traffic/input';
import { AttentionInputError, findTensor, type Trace } from '../../shared/trace';
import { attentionBlocks } from '../../shared/navigation';
import { attentionRow, dayTicks, forecastHourOf, hourLabel, lagShare, timeSeriesOf } from '../../shared/timeSeries';
import { getModel } from '../../src/model/open/builtins';
import { forecastAttendedAt } from '../../src/hover/attends';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = fs.readFileSync(path.join(ROOT, 'samples', 'traffic', 'i94-westbound-3-weeks.csv'), 'utf8');
const SAMPLE_LINES = SAMPLE.split('\n');
const LIMITS = { window: 168, horizon: 6, ...TRAFFIC_LIMITS };

interface F32 {
  readonly shape: number[];
  readonly b64: string;
}
interface FixtureStep {
  readonly input: F32;
  readonly query: F32;
  readonly cell: F32;
  readonly scores: F32;
  readonly weights: F32;
  readonly context: F32;
  readonly combined: F32;
  readonly forecastZ: number;
  readonly forecast: number;
}
interface FixtureCase {
  readonly text: string;
  readonly offsets: [number, number][];
  readonly truth: number[];
  readonly truth_offsets: [number, number][];
  readonly z: F32;
  readonly hidden: F32;
  readonly cell: F32;
  readonly Wk: F32;
  readonly features?: F32;
  readonly steps: FixtureStep[];
}

function f32(x: F32): Float32Array {
  const b = Buffer.from(x.b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function close(actual: Float32Array | readonly number[], expected: Float32Array, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!));
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol, `${what}: differs by ${worst} at ${at} (${actual[at]} vs ${expected[at]})`);
}

const stage = (t: Trace, id: string) => {
  const s = t.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id}`);
  return s;
};
const tensorOf = (t: Trace, id: string, name: string): Float32Array => {
  const x = findTensor(stage(t, id), name);
  assert.ok(x, `${id}.${name}`);
  return x.data;
};

for (const variant of TRAFFIC_VARIANTS) {
  test(`${variant}: every tensor equals the numpy reference (1e-4), rows sum to 1, no tensor leaks`, async () => {
    await initBackend();
    const fixture = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'traffic', `${variant}.json`), 'utf8'),
    ) as { cases: FixtureCase[] };
    const model = await loadTraffic(builtinTrafficDir(), variant);
    try {
      for (const [n, c] of fixture.cases.entries()) {
        const before = tf.memory().numTensors;
        const trace = await model.run(c.text);
        assert.equal(tf.memory().numTensors, before, `case ${n}: tensors disposed`);
        assert.deepEqual(
          trace.tokens.map((t) => [t.start, t.end]),
          c.offsets,
          `case ${n}: each hour is the number as written, at its offsets`,
        );
        trace.tokens.forEach((t, i) => assert.equal(t.text, c.text.slice(...c.offsets[i]!)));
        close(tensorOf(trace, 'tokens', 'z'), f32(c.z), `case ${n} z`);
        if (c.features) close(tensorOf(trace, 'conv', 'features'), f32(c.features), `case ${n} conv features`);
        close(tensorOf(trace, 'encoder', 'hidden'), f32(c.hidden), `case ${n} encoder hidden`);
        close(tensorOf(trace, 'encoder', 'cell'), f32(c.cell), `case ${n} encoder cell`);
        close(tensorOf(trace, 'fc0.scores', 'Wk'), f32(c.Wk), `case ${n} W h_i`);
        c.steps.forEach((s, t) => {
          close(tensorOf(trace, `fc${t}.query`, 'input'), f32(s.input), `case ${n} +${t + 1} input`);
          close(tensorOf(trace, `fc${t}.query`, 'query'), f32(s.query), `case ${n} +${t + 1} query`);
          close(tensorOf(trace, `fc${t}.scores`, 'scores'), f32(s.scores), `case ${n} +${t + 1} scores`);
          const w = tensorOf(trace, `fc${t}.weights`, 'weights');
          close(w, f32(s.weights), `case ${n} +${t + 1} weights`);
          assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-5, `+${t + 1}: weights sum to 1`);
          close(tensorOf(trace, `fc${t}.context`, 'context'), f32(s.context), `case ${n} +${t + 1} context`);
          close(tensorOf(trace, `fc${t}.output`, 'combined'), f32(s.combined), `case ${n} +${t + 1} o_t`);
          close(tensorOf(trace, `fc${t}.output`, 'forecast'), Float32Array.of(s.forecast), `case ${n} +${t + 1} ŷ`);
        });
        const K = trace.tokens.length;
        const A = tensorOf(trace, 'alignment', 'weights');
        for (let t = 0; t < 6; t++) {
          const row = A.subarray(t * K, (t + 1) * K);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `alignment row ${t} sums to 1`);
        }
        close(
          tensorOf(trace, 'forecast', 'forecast'),
          Float32Array.from(c.steps, (s) => s.forecast),
          `case ${n} forecast`,
        );
        // The truth: the hours after the window, and the forecast tokens point at them in the text.
        const series = timeSeriesOf(trace);
        assert.ok(series);
        assert.deepEqual(Array.from(series.truth), c.truth);
        assert.deepEqual(
          trace.outputTokens!.slice(0, c.truth.length).map((t) => [t.start, t.end]),
          c.truth_offsets,
        );
        assert.equal(series.firstHour !== undefined, n === 0, 'timestamps when the rows carry date_time');
        // Every forecast hour is an attention block of output → input that the views can read.
        const blocks = attentionBlocks(trace).filter((b) => b.step !== undefined);
        assert.equal(blocks.length, 6);
        assert.ok(blocks.every((b) => b.info.queries === 'output' && b.info.keys === 'input'));
        close(attentionRow(trace, stage(trace, 'fc2.weights'), 2)!, f32(c.steps[2]!.weights), 'row of +3 via blocks');
        close(attentionRow(trace, stage(trace, 'alignment'), 4)!, f32(c.steps[4]!.weights), 'row of +5 via alignment');
      }
    } finally {
      model.dispose();
    }
  });
}

test('the built-in catalog loads both traffic models', async () => {
  await initBackend();
  for (const v of TRAFFIC_VARIANTS) {
    const m = await getModel(`traffic-${v}`);
    assert.equal(m.info.id, `traffic-${v}`);
    assert.equal(m.info.family, 'traffic');
  }
});

test('the stage texts quote the score function and the measured attention shares', async () => {
  await initBackend();
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'models', 'traffic', 'config.json'), 'utf8')) as {
    variants: Record<string, { lag24_share: number; lag168_share: number }>;
  };
  const m = await getModel('traffic-lstm-attention');
  const trace = await m.run(SAMPLE_LINES.slice(0, 175).join('\n'));
  assert.match(stage(trace, 'fc0.scores').formula, /e_tj = s_tᵀ W h_j/);
  const text = stage(trace, 'alignment').explanation;
  const share = cfg.variants['lstm-attention']!;
  assert.ok(text.includes(`${(100 * share.lag24_share).toFixed(1)}% of the weight is on the hours 24 ± 1`), text);
  assert.ok(text.includes(`${(100 * share.lag168_share).toFixed(1)}% on 168 ± 1`), text);
  // The even-spread comparison: of the 30 keys, 3 are within lag 24 ± 1 of each of +2 … +6 h and 2 of +1 h: 17/180.
  assert.ok(text.includes('would give 9.4%'), text);
  assert.match(stage(trace, 'tokens').explanation, /CC BY 4\.0/);
});

// ---- reading the input -------------------------------------------------------------------------

const column = (from: number, n: number): string =>
  SAMPLE_LINES.slice(1 + from, 1 + from + n)
    .map((l) => l.split(',')[8])
    .join('\n');

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseTrafficInput(text, LIMITS),
    (e: unknown) => e instanceof AttentionInputError && pattern.test(e.message),
  );
}

test('input: the dataset rows with their header, and without it', () => {
  const withHeader = parseTrafficInput(SAMPLE_LINES.slice(0, 200).join('\n'), LIMITS);
  assert.equal(withHeader.window.length, 168);
  assert.equal(withHeader.truth.length, 6);
  assert.equal(withHeader.window[0]!.time, '2018-09-10 00:00');
  assert.equal(withHeader.window[0]!.text, SAMPLE_LINES[1]!.split(',')[8]);
  assert.match(withHeader.warnings.join(' '), /25 lines after line 175 ignored/);
  const noHeader = parseTrafficInput(SAMPLE_LINES.slice(1, 170).join('\n'), LIMITS);
  assert.equal(noHeader.window.length, 168);
  assert.equal(noHeader.truth.length, 1);
  assert.equal(noHeader.window[5]!.value, Number(SAMPLE_LINES[6]!.split(',')[8]));
  assert.match(noHeader.source, /Metro Interstate rows/);
});

test('input: a column of numbers keeps each number’s offsets; CRLF and blank lines are fine', () => {
  const text = column(0, 170).split('\n').join('\r\n\r\n');
  const r = parseTrafficInput(text, LIMITS);
  assert.equal(r.window.length, 168);
  assert.equal(r.truth.length, 2);
  for (const v of [...r.window, ...r.truth]) assert.equal(text.slice(v.start, v.end), v.text);
  assert.equal(r.window[3]!.line, 7);
});

test('input: a repeated hour (one row per weather condition) is read once, with a warning', () => {
  const rows = SAMPLE_LINES.slice(1, 175);
  const dup = [rows[0]!.replace('Clear,sky is clear', 'Mist,mist'), ...rows];
  const r = parseTrafficInput([SAMPLE_LINES[0]!, ...dup].join('\n'), LIMITS);
  assert.equal(r.window.length, 168);
  assert.match(r.warnings.join(' '), /1 row repeats an hour/);
});

test('input: bad input names the line', () => {
  rejects(column(0, 100), /^100 hourly volumes selected; the model reads a window of 168/);
  const bad = column(0, 170).split('\n');
  bad[41] = 'n/a';
  rejects(bad.join('\n'), /^Line 42: "n\/a" is not a number/);
  bad[41] = '-5';
  rejects(bad.join('\n'), /^Line 42: -5 is negative/);
  // a gap in the timestamps
  const rows = SAMPLE_LINES.slice(0, 180);
  rows.splice(51, 3);
  rejects(rows.join('\n'), /^Line 52: 2018-09-12 05:00 follows 2018-09-12 01:00: 3 hours are missing/);
  // out of order
  const swapped = SAMPLE_LINES.slice(0, 180);
  swapped[11] = swapped[6]!;
  rejects(swapped.join('\n'), /^Line 12: 2018-09-10 05:00 comes before the previous row's 2018-09-10 09:00/);
  // temperatures (Kelvin) instead of volumes: the wrong scale
  const temps = SAMPLE_LINES.slice(1, 175)
    .map((l) => l.split(',')[1])
    .join('\n');
  rejects(temps, /^Lines 1–168: the largest value is \d+(\.\d+)? \(line \d+\).*another quantity/);
  // far too large
  const big = column(0, 170).split('\n');
  big[9] = '99999';
  rejects(big.join('\n'), /^Line 10: 99999 vehicles\/hour is far above/);
  // several columns without a header
  rejects(
    column(0, 170)
      .split('\n')
      .map((v) => `${v},1`)
      .join('\n'),
    /^Line 1: 2 columns.*Select one column of volumes/,
  );
  // a bad timestamp
  const when = SAMPLE_LINES.slice(0, 180);
  when[20] = when[20]!.replace('2018-09-10 19:00:00', '2018-09-10 25:00:00');
  rejects(when.join('\n'), /^Line 21: "2018-09-10 25:00:00" is not a real date and hour/);
});

test('time series helpers: hour labels, day ticks, lag shares, forecast hour of a stage', () => {
  const s = {
    volumes: new Float32Array(168),
    forecast: new Float32Array(6),
    truth: new Float32Array(0),
    window: 168,
    horizon: 6,
    keyHours: Array.from({ length: 168 }, (_, i) => i),
  };
  assert.equal(hourLabel({ firstHour: Date.UTC(2018, 8, 10, 0) / 3_600_000 }, 14), 'Mon 10 Sep 14:00');
  assert.equal(hourLabel({}, 0), 'hour 1');
  const ticks = dayTicks({ ...s, firstHour: Date.UTC(2018, 8, 10, 0) / 3_600_000 });
  assert.equal(ticks.length, 8);
  assert.deepEqual(ticks[1], { at: 24, label: 'Tue 11 Sep' });
  assert.deepEqual(
    dayTicks(s).map((t) => t.label),
    ['−168 h', '−144 h', '−120 h', '−96 h', '−72 h', '−48 h', '−24 h', 'now'],
  );
  const w = new Float32Array(168);
  // forecast hour t = 2 (+3 h): lag 24 is input index 168 + 2 − 24 = 146, lag 168 is index 2
  w[145] = 0.1;
  w[146] = 0.2;
  w[147] = 0.05;
  w[1] = 0.3;
  w[2] = 0.1;
  w[3] = 0.05;
  assert.ok(Math.abs(lagShare(w, 2, 24, s.keyHours, 168) - 0.35) < 1e-6);
  assert.ok(Math.abs(lagShare(w, 2, 168, s.keyHours, 168) - 0.45) < 1e-6);
  // With the trained model's 30 keys (hours 0, 24, …, 120, 144 … 167): key 0 is hour 0, lag 170 from +3 h.
  const keys = [0, 24, 48, 72, 96, 120, ...Array.from({ length: 24 }, (_, i) => 144 + i)];
  const k = new Float32Array(30);
  k[0] = 0.25; // hour 0: lag 170 from +3 h (outside 168 ± 1), lag 168 from +1 h
  k[8] = 0.5; // hour 146: lag 24 from +3 h
  assert.ok(Math.abs(lagShare(k, 2, 24, keys, 168) - 0.5) < 1e-6);
  assert.equal(lagShare(k, 2, 168, keys, 168), 0);
  assert.ok(Math.abs(lagShare(k, 0, 168, keys, 168) - 0.25) < 1e-6);
  const base = { kind: 'normalise' as const, title: '', formula: '', explanation: '', tensors: [] };
  assert.equal(forecastHourOf({ ...base, id: 'fc3.weights', step: 3 }, undefined, 6), 3);
  assert.equal(forecastHourOf({ ...base, id: 'alignment' }, 5, 6), 5);
  assert.equal(forecastHourOf({ ...base, id: 'encoder' }, 2, 6), undefined);
});

test('hover: a truth number shows what its forecast hour attended to; an input hour the cursor’s forecast hour', async () => {
  await initBackend();
  const m = await getModel('traffic-lstm-attention');
  const text = SAMPLE_LINES.slice(0, 175).join('\n');
  const trace = await m.run(text);
  const truth3 = trace.outputTokens![2]!;
  assert.equal(text.slice(truth3.start, truth3.end), SAMPLE_LINES[171]!.split(',')[8]);
  const cursor = { stage: 0, head: 0, view: 'heatmap' as const };
  const a = forecastAttendedAt(trace, cursor, truth3.start + 1, 3)!;
  assert.equal(a.hour, 2);
  assert.equal(a.hovered, truth3);
  assert.equal(a.stage.id, 'fc2.weights');
  const w = tensorOf(trace, 'fc2.weights', 'weights');
  const best = w.indexOf(Math.max(...w));
  assert.equal(a.entries[0]!.token, trace.tokens[best]);
  assert.equal(a.entries[0]!.weight, w[best]);
  // An input hour with the cursor on forecast hour +5's scores: +5's weights.
  const on5 = { ...cursor, stage: trace.stages.findIndex((s) => s.id === 'fc4.scores') };
  const last = trace.tokens[trace.tokens.length - 1]!;
  const b = forecastAttendedAt(trace, on5, last.start, 2)!;
  assert.equal(b.hour, 4);
  assert.equal(b.hovered, last);
  close(b.row, tensorOf(trace, 'fc4.weights', 'weights'), 'row of +5');
  // Between numbers, nothing; other models keep the self-attention hover only.
  assert.equal(forecastAttendedAt(trace, cursor, last.end, 2), undefined);
});

test('the memory estimate of a forecaster counts its window of hours, not the selection’s length', async () => {
  await initBackend();
  const { checkBudget, tokenBound } = await import('../../src/worker/budget');
  const sample = fs.readFileSync(
    path.resolve(__dirname, '..', '..', 'samples', 'traffic', 'i94-westbound-3-weeks.csv'),
    'utf8',
  );
  for (const v of TRAFFIC_VARIANTS) {
    const m = await getModel(`traffic-${v}`);
    const window = m.info.maxInputTokens!;
    assert.ok(window >= 24, `${v}: a window of ${window} hours`);
    // Three weeks of rows are ~30 KB of text: bounded by bytes they would need gigabytes, and were refused.
    assert.equal(tokenBound(sample, undefined, m.info), window);
    assert.doesNotThrow(() => checkBudget(m.info, sample, undefined, 64));
  }
});
