// A person opens a sample, selects a sentence, right-clicks "Visualise attention" and reads the panel.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openFile, panelFrame, rightClickMenu, rightClickSelection, selectLine, type Session } from './harness';

let s: Session;
before(async () => {
  s = await launch({ settings: { 'attentionLens.model': 'toy-self-attention' } });
});
after(async () => {
  await s?.close();
});

test('right-click → Visualise attention shows a heatmap labelled with the selected tokens', async () => {
  const { page } = s;
  await openFile(page, 'translation.txt');
  await selectLine(page, 1);
  await s.shot('01-selection');
  await rightClickSelection(page);
  await page.locator('.monaco-menu .action-label', { hasText: 'Visualise attention' }).first().waitFor();
  await s.shot('02-context-menu');
  await page.keyboard.press('Escape');
  await rightClickMenu(page, 'Visualise attention');
  const frame = await panelFrame(page, '[data-testid="tokens"]');
  const tokens = await frame.$$eval('[data-testid="tokens"] .tok-text', (els) => els.map((e) => e.textContent));
  assert.deepEqual(tokens, ['The', 'black', 'cat', 'sat', 'on', 'the', 'warm', 'mat', '.']);
  await s.shot('03-panel-tokens');
  // Step to the attention weights with the panel's own buttons.
  for (let i = 0; i < 10 && !(await frame.$('[data-testid="heatmap-weights"]')); i++)
    await frame.click('[data-testid="next-stage"]');
  const shape = await frame.textContent('[data-testid="shape-weights"]');
  assert.match(shape ?? '', /\[2 head × 9 query × 9 key\]/);
  await s.shot('04-panel-heatmap');
  // The other views, in the dark theme (panel.test.ts covers them in the light one).
  await frame.click('[data-testid="whatif-sparsemax"]');
  await frame.locator('[data-testid="heatmap-whatif-weights"]').waitFor();
  await s.shot('05-panel-dark-whatif');
  await frame.click('[data-testid="view-lines"]');
  await frame.locator('[data-testid="lines"]').waitFor();
  await s.shot('06-panel-dark-lines');
  await frame.click('[data-testid="view-grid"]');
  await frame.locator('[data-testid="heads-grid-self"]').waitFor();
  await s.shot('07-panel-dark-grid');
});
