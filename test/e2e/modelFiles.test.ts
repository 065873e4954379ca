// A user's own Hugging Face checkpoint, as a person meets it: a copy of the real TinyStories
// folder in their workspace. Right-click its config.json, type a sentence, read the panel; keep
// it for selections; a folder with only pytorch_model.bin is refused with a reason.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  explorerMenu,
  explorerRow,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  selectLine,
  type Session,
} from './harness';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

let s: Session;
before(async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-models-'));
  cpSync(path.join(ROOT, 'models', 'tinystories-656k'), path.join(folder, 'my-tinystories'), { recursive: true });
  mkdirSync(path.join(folder, 'pickled'));
  writeFileSync(
    path.join(folder, 'pickled', 'config.json'),
    JSON.stringify({ model_type: 'gpt2', n_embd: 8, n_head: 2, n_layer: 1, vocab_size: 10 }),
  );
  writeFileSync(path.join(folder, 'pickled', 'pytorch_model.bin'), 'not really a pickle');
  cpSync(path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm'), path.join(folder, 'charlm'), { recursive: true });
  writeFileSync(path.join(folder, 'story.txt'), 'Once upon a time there was a little girl named Lily.\n');
  s = await launch({ folder, settings: { 'security.workspace.trust.enabled': false } });
});
after(async () => {
  await s?.close();
});

/** Opens or closes a folder in the explorer, so only one config.json is in view. */
async function setExpanded(folderName: string, open: boolean): Promise<void> {
  const row = explorerRow(s.page, folderName);
  await row.waitFor({ timeout: 20_000 });
  // Close whatever a previous step left open (a menu, an input box) before clicking the tree.
  await s.page.keyboard.press('Escape');
  if (((await row.getAttribute('aria-expanded')) === 'true') !== open) await row.click();
  await s.page.waitForTimeout(300);
}

async function typeInInputBox(text: string): Promise<void> {
  const input = s.page.locator('.quick-input-widget:not([style*="display: none"]) input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill(text);
  await s.shot('model-file-input');
  await input.press('Enter');
}

test('right-click a Hugging Face config.json → type a sentence → the panel shows that model', async () => {
  await setExpanded('my-tinystories', true);
  await explorerMenu(s.page, 'config.json', 'Visualise attention with this model', s.shot);
  await typeInInputBox('Once upon a time there was a cat.');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'my-tinystories');
  assert.match((await frame.textContent('[data-testid="tokens"]')) ?? '', /cat/);
  await s.shot('model-file-panel');
});

test('"Use for selections" makes it the model that right-click on text runs', async () => {
  const button = s.page.locator('.notification-toast .monaco-button', { hasText: 'Use for selections' }).first();
  await button.waitFor({ timeout: 15_000 });
  await button.click();
  await openFile(s.page, 'story.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  // The panel re-renders for the new trace: wait until it shows the selection's tokens.
  await frame.waitForFunction(
    () => document.querySelector('[data-testid="tokens"]')?.textContent?.includes('girl'),
    undefined,
    { timeout: 60_000 },
  );
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'my-tinystories');
});

test('a folder with only pytorch_model.bin is refused with a message about safetensors', async () => {
  await setExpanded('my-tinystories', false);
  await setExpanded('pickled', true);
  await explorerMenu(s.page, 'config.json', 'Visualise attention with this model');
  await typeInInputBox('Hello there.');
  const toast = s.page.locator('.notification-toast', { hasText: 'safetensors' }).first();
  await toast.waitFor({ timeout: 30_000 });
  assert.match((await toast.textContent()) ?? '', /pytorch_model\.bin/);
  await s.page.waitForTimeout(500);
  await s.shot('model-file-refused');
});

test('right-click a TensorFlow.js model.json → its MultiHeadAttention layer in the panel', async () => {
  await setExpanded('pickled', false);
  await setExpanded('charlm', true);
  await explorerMenu(s.page, 'model.json', 'Visualise attention with this model');
  await typeInInputBox('once upon a time');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  await frame
    .waitForFunction(() => document.querySelector('[data-testid="model-name"]')?.textContent === 'charlm', undefined, {
      timeout: 60_000,
    })
    .catch(async (err: unknown) => {
      await s.shot('model-file-tfjs-failed');
      throw err;
    });
  for (let i = 0; i < 6 && !(await frame.$('[data-testid="heatmap-weights"]')); i++)
    await frame.click('[data-testid="next-stage"]');
  await frame.locator('[data-testid="heatmap-weights"]').waitFor({ timeout: 10_000 });
  await s.shot('model-file-tfjs-weights');
});
