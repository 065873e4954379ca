// The recurrent cells' gates as a learner sees them (issue 18, part 2): the LSTM date model's encoder
// stage shows both directions' hidden and cell states and the gates i, f, g, o as small multiples
// ([token, unit] heatmaps, sigmoid gates on a 0-to-1 scale) under each gate's formula; a decoder step
// shows its state update's gates; the GRU shows z, r and h̃. Screenshots looked at.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  launch,
  openFileSoon,
  panelFrame,
  rightClickMenu,
  selectLine,
  type Session,
  retry,
  chooseModel,
} from './harness';

let s: Session;
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-gates-'));
writeFileSync(path.join(folder, 'dates.txt'), 'Nov 23, 2026\n');

before(async () => {
  // A loaded machine can miss the workbench's page load: try again (a fresh server each time).
  s = await retry(3, () => launch({ folder, settings: { 'attentionLens.model': 'seq2seq-dates-lstm' } }));
});
after(async () => {
  await s?.close();
});

async function goTo(frame: Frame, title: RegExp): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const t = (await frame.textContent('[data-testid="stage-title"]')) ?? '';
    if (title.test(t)) return t;
    await frame.click('[data-testid="next-stage"]');
  }
  throw new Error(`no stage titled ${title}`);
}

const shape = (frame: Frame, name: string): Promise<string | null> =>
  frame.textContent(`[data-testid="shape-${name}"]`);

test('LSTM: the encoder shows h, c and the gates i, f, g, o per character and unit, with their formulas', async () => {
  await openFileSoon(s.page, 'dates.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]');
  await goTo(frame, /^Bidirectional LSTM encoder$/);
  const formula = (await frame.textContent('[data-testid="stage-formula"]')) ?? '';
  for (const f of [
    'iₜ = σ(W_i xₜ + U_i hₜ₋₁ + b_i)',
    'fₜ = σ(W_f xₜ + U_f hₜ₋₁ + b_f)',
    'gₜ = tanh(W_g xₜ + U_g hₜ₋₁ + b_g)',
    'oₜ = σ(W_o xₜ + U_o hₜ₋₁ + b_o)',
    'cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ',
    'hₜ = oₜ ⊙ tanh(cₜ)',
  ])
    assert.ok(formula.includes(f), `formula shows ${f}: ${formula}`);
  for (const dir of ['forward', 'backward'])
    for (const g of ['c', 'i', 'f', 'g', 'o']) {
      const name = `${dir} ${g}`;
      assert.ok(await frame.locator(`[data-testid="heatmap-${name}"]`).isVisible(), `${name} is drawn`);
      assert.match((await shape(frame, name)) ?? '', /12.*64/, `${name} is [token 12, unit 64]`);
    }
  // Sigmoid gates on their own range, candidates and cell states signed.
  assert.equal(await frame.getAttribute('[data-testid="heatmap-forward f"]', 'data-legend'), 'gate f (σ): 0 to 1');
  assert.match(
    (await frame.getAttribute('[data-testid="heatmap-forward g"]', 'data-legend')) ?? '',
    /^forward g value: -/,
  );
  await s.shot('gates-lstm-encoder');
  // Scrolled to the gates, so the screenshot shows them.
  await frame.locator('[data-testid="heatmap-backward o"]').scrollIntoViewIfNeeded();
  await s.shot('gates-lstm-encoder-gates');
});

test('LSTM: a decoder step shows its state update: i, f, g, o and c over the decoder units', async () => {
  const frame = await panelFrame(s.page, '[data-testid="stage-title"]');
  await goTo(frame, /^Decoder step 1: state \(query\)$/);
  const formula = (await frame.textContent('[data-testid="stage-formula"]')) ?? '';
  assert.ok(formula.startsWith('s₁ = LSTM_dec(E_out[y₀], s₀),  y₀ = <s>;'), formula);
  assert.ok(formula.includes('cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ'), formula);
  for (const g of ['i', 'f', 'g', 'o', 'c']) {
    assert.ok(await frame.locator(`[data-testid="heatmap-${g}"]`).isVisible(), `${g} is drawn`);
    assert.match((await shape(frame, g)) ?? '', /128/, `${g} has 128 decoder units`);
  }
  await s.shot('gates-lstm-decoder-step');
});

test('GRU: choosing the GRU model re-runs the text; its encoder shows z, r and h̃ with the reset-after formula', async () => {
  await chooseModel(s.page, 'Seq2seq dates: additive', 'Seq2seq dates: additive');
  // The re-run replaces the trace: wait for the GRU model's name in the panel's header.
  let frame = await panelFrame(s.page, '[data-testid="stage-title"]');
  for (let i = 0; i < 180; i++) {
    frame = await panelFrame(s.page, '[data-testid="stage-title"]');
    if (((await frame.textContent('body')) ?? '').includes('Seq2seq dates, additive (Bahdanau) attention')) break;
    await s.page.waitForTimeout(500);
  }
  await s.shot('gates-gru-chosen');
  assert.ok(
    ((await frame.textContent('body')) ?? '').includes('Seq2seq dates, additive (Bahdanau) attention'),
    'the panel shows the GRU model',
  );
  await frame.locator('nav.pipeline > .phase', { hasText: 'encoder' }).first().click();
  await goTo(frame, /^Bidirectional GRU encoder$/);
  const formula = (await frame.textContent('[data-testid="stage-formula"]')) ?? '';
  for (const f of [
    'zₜ = σ(W_z xₜ + U_z hₜ₋₁ + b_z)',
    'rₜ = σ(W_r xₜ + U_r hₜ₋₁ + b_r)',
    'h̃ₜ = tanh(W_h xₜ + b_h + rₜ ⊙ (U_h hₜ₋₁ + b_Uh))',
    'hₜ = (1 − zₜ) ⊙ h̃ₜ + zₜ ⊙ hₜ₋₁',
  ])
    assert.ok(formula.includes(f), `formula shows ${f}: ${formula}`);
  for (const name of ['forward z', 'forward r', 'forward h̃', 'backward z', 'backward r', 'backward h̃'])
    assert.ok(await frame.locator(`[data-testid="heatmap-${name}"]`).isVisible(), `${name} is drawn`);
  assert.equal(await frame.locator('[data-testid="heatmap-forward c"]').count(), 0, 'a GRU has no cell state');
  await frame.locator('[data-testid="heatmap-backward h̃"]').scrollIntoViewIfNeeded();
  await s.shot('gates-gru-encoder');
});
