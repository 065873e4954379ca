// Model config files as a person uses them: right-click a config in the explorer, see its
// attention; change one number, save, see the weights change; open a broken config, read why.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import { explorerMenu, launch, openFile, panelFrame, runCommand, type Session } from './harness';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

const NAME = 'dot-product-3-tokens.attention.json';
let s: Session;
let folder: string;
before(async () => {
  // A copy, so saving edits never touches the shipped samples.
  folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-configs-'));
  copyFileSync(path.join(ROOT, 'samples', 'configs', NAME), path.join(folder, NAME));
  writeFileSync(
    path.join(folder, 'broken.attention.json'),
    JSON.stringify(
      {
        kind: 'hand-built',
        tokens: ['a', 'b'],
        embeddings: [
          [1, 0, 0],
          [0, 1, 0],
        ],
        W_q: [
          [1, 0],
          [0, 1],
          [1, 1],
          [0, 0],
        ],
        W_k: [
          [1, 0],
          [0, 1],
          [1, 1],
        ],
        W_v: [[1], [0], [1]],
      },
      null,
      2,
    ),
  );
  s = await launch({ folder, colorTheme: 'Default Light Modern' });
});
after(async () => {
  await s?.close();
});

async function scoreCell(frame: Frame): Promise<number> {
  const canvas = frame.locator('[data-testid="heatmap-scores"]');
  await canvas.waitFor();
  await canvas.focus();
  await canvas.press('ArrowDown');
  await canvas.press('ArrowUp');
  return Number(/= (-?[\d.e-]+)$/.exec((await frame.textContent('[data-testid="readout-scores"]')) ?? '')?.[1]);
}

test('right-click a config in the explorer → the panel shows its attention', async () => {
  await explorerMenu(s.page, NAME, 'Visualise attention config', s.shot);
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'Dot-product attention on three tokens');
  for (let i = 0; i < 6 && !(await frame.$('[data-testid="heatmap-scores"]')); i++)
    await frame.click('[data-testid="next-stage"]');
  assert.equal(await scoreCell(frame), 2, 'q₁·k₁ = 2 in the worked example');
  await s.shot('config-panel-scores');
});

test('change one number, save: the panel re-runs with it', async () => {
  // Open the config to the side (Ctrl+Enter in Quick Open), so the panel stays in view.
  await s.page.keyboard.press('Control+P');
  await s.page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input');
  await s.page.keyboard.type(NAME);
  await s.page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${NAME}"]`);
  await s.page.keyboard.press('Control+Enter');
  await s.page.waitForSelector('.monaco-editor .view-lines');
  await s.page.waitForTimeout(500);
  // Line 6 is "    [1, 0, 1, 0],": go to its first number (column 6) and make it 2.
  await s.page.keyboard.press('Control+G');
  await s.page.keyboard.type('6:6');
  await s.page.keyboard.press('Enter');
  await s.page.keyboard.press('Shift+ArrowRight');
  await s.page.keyboard.type('2');
  await s.shot('config-edited');
  await s.page.keyboard.press('Control+S');
  await s.page.waitForTimeout(2500);
  const frame = await panelFrame(s.page, '[data-testid="heatmap-scores"]');
  // x₁ = [2,0,1,0]: q₁ = x₁W_q = [2,0,3], k₁ = x₁W_k = [0,1,2] → q₁·k₁ = 6.
  assert.equal(await scoreCell(frame), 6);
  await s.shot('config-panel-after-edit');
});

test('a broken config shows what is wrong in the Problems panel', async () => {
  await openFile(s.page, 'broken.attention.json');
  await runCommand(s.page, 'View: Focus Problems');
  const problems = s.page.locator('.markers-panel');
  await problems.waitFor({ timeout: 15_000 });
  await s.page.waitForFunction(
    () => /W_q/.test(document.querySelector('.markers-panel')?.textContent ?? ''),
    undefined,
    { timeout: 15_000 },
  );
  const text = (await problems.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /"W_q" is 4×2 but .* 3×2/);
  await s.shot('config-problems');
});
