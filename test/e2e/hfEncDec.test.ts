// A T5 checkpoint in the user's workspace (the random-weight fixture in the Hub's layout, copied under
// a name of the user's): right-click its config.json, type a sentence, and the panel shows that model
// with its relative position bias as a stage of its own, the unscaled score formula that adds it, and
// the decoder's cross-attention over the input tokens.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explorerMenu, explorerRow, launch, panelFrame, type Session } from './harness';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

let s: Session;
before(async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-t5-'));
  cpSync(path.join(ROOT, 'test', 'fixtures', 'hf', 't5'), path.join(folder, 'my-t5'), { recursive: true });
  s = await launch({ folder, settings: { 'security.workspace.trust.enabled': false } });
});
after(async () => {
  await s?.close();
});

test('right-click a T5 config.json → its position bias stage, the scores that add it, cross-attention', async () => {
  const row = explorerRow(s.page, 'my-t5');
  await row.waitFor({ timeout: 20_000 });
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
  await explorerMenu(s.page, 'config.json', 'Visualise attention with this model', s.shot);
  const input = s.page.locator('.quick-input-widget:not([style*="display: none"]) input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill('The house is wonderful.');
  await input.press('Enter');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'my-t5');
  const title = async (): Promise<string> => (await frame.textContent('[data-testid="stage-title"]')) ?? '';
  const formula = async (): Promise<string> => (await frame.textContent('[data-testid="stage-formula"]')) ?? '';
  const goTo = async (want: string): Promise<void> => {
    for (let i = 0; i < 40 && (await title()) !== want; i++) await frame.click('[data-testid="next-stage"]');
    assert.equal(await title(), want);
  };
  await goTo('Encoder relative position bias (shared by every layer)');
  assert.equal(await formula(), 'B[h, i, j] = R[bucket(j − i), h]');
  await s.shot('t5-position-bias');
  await goTo('Encoder layer 0: attention scores');
  assert.equal(await formula(), 'S[h] = Q[h] K[h]ᵀ + B[h]   (no 1/√6)');
  await s.shot('t5-encoder-scores');
  await goTo('Decoder layer 0, cross-attention: attention weights');
  const canvas = frame.locator('[data-testid="heatmap-weights"]');
  await canvas.waitFor({ timeout: 15_000 });
  await canvas.focus();
  await canvas.press('ArrowRight');
  // Rows are output steps, columns the 6 input tokens ("▁Th" "e" "▁house" "▁is" "▁wonderful." "</s>").
  assert.match((await frame.textContent('[data-testid="readout-weights"]')) ?? '', /key .*e.* \(#1\) = /);
  await s.shot('t5-cross-weights');
});
