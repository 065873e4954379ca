// A Gemma 2 checkpoint in the user's workspace (the random-weight fixture in the Hub's layout, copied
// under a name of the user's): right-click its config.json, type a sentence, and the panel shows that
// model, with its local layer named as such, the window drawn as the mask and the soft-capped score formula.
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
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-gemma-'));
  cpSync(path.join(ROOT, 'test', 'fixtures', 'hf', 'gemma2'), path.join(folder, 'my-gemma2'), { recursive: true });
  s = await launch({ folder, settings: { 'security.workspace.trust.enabled': false } });
});
after(async () => {
  await s?.close();
});

test('right-click a Gemma 2 config.json → its local layer, window mask and soft-capped scores in the panel', async () => {
  const row = explorerRow(s.page, 'my-gemma2');
  await row.waitFor({ timeout: 20_000 });
  if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
  await explorerMenu(s.page, 'config.json', 'Visualise attention with this model', s.shot);
  const input = s.page.locator('.quick-input-widget:not([style*="display: none"]) input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill('The lazy dog sleeps');
  await input.press('Enter');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'my-gemma2');
  const title = async (): Promise<string> => (await frame.textContent('[data-testid="stage-title"]')) ?? '';
  for (let i = 0; i < 12 && !(await title()).startsWith('Layer 0 (local, window 3): attention scores'); i++)
    await frame.click('[data-testid="next-stage"]');
  assert.equal(await title(), 'Layer 0 (local, window 3): attention scores');
  assert.equal(await frame.textContent('[data-testid="stage-formula"]'), 'S[h] = 2·tanh(Q[h] K[g(h)]ᵀ / (2·√16))');
  await s.shot('gemma2-local-scores');
  // The weights of query 3 on key 0: outside layer 0's 3-token window (0 exactly), inside layer 1's causal view.
  const weightAt30 = async (): Promise<string> => {
    const canvas = frame.locator('[data-testid="heatmap-weights"]');
    await canvas.waitFor({ timeout: 15_000 });
    await canvas.focus();
    for (let i = 0; i < 3; i++) await canvas.press('ArrowDown');
    return (await frame.textContent('[data-testid="readout-weights"]')) ?? '';
  };
  await frame.click('[data-testid="next-stage"]');
  assert.equal(await title(), 'Layer 0 (local, window 3): attention weights');
  assert.match(await weightAt30(), /\(#3\) · key .* \(#0\) = 0$/);
  for (let i = 0; i < 12 && !(await title()).startsWith('Layer 1 (global): attention weights'); i++)
    await frame.click('[data-testid="next-stage"]');
  assert.equal(await title(), 'Layer 1 (global): attention weights');
  assert.doesNotMatch(await weightAt30(), /= 0$/);
  await s.shot('gemma2-global-weights');
});
