// A user's Hugging Face cache, as a person meets it: Choose model… lists the models in the cache
// (HF_HUB_CACHE, inherited by code-server's extension host) and in attentionLens.modelFolders, with
// family, parameters and size; picking one and typing a sentence shows it in the panel.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launch, openFile, panelFrame, runCommand, type Session } from './harness';
import { addSnapshot } from '../unit/hfCacheTree';
// @ts-expect-error: plain ESM helper
import { ROOT } from '../../scripts/codeServer.mjs';

const COMMIT = '5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a';
let s: Session;
before(async () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-hfcache-'));
  addSnapshot(cache, 'tiny-org/tiny-gpt2', path.join(ROOT, 'test', 'fixtures', 'hf', 'gpt2'), COMMIT, ['main']);
  const extra = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-folders-'));
  addSnapshot(extra, 'tiny-org/tiny-bert', path.join(ROOT, 'test', 'fixtures', 'hf', 'bert'), COMMIT, ['main']);
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-ws-'));
  writeFileSync(path.join(folder, 'notes.txt'), 'Hello.\n');
  process.env['HF_HUB_CACHE'] = cache;
  s = await launch({
    folder,
    settings: { 'security.workspace.trust.enabled': false, 'attentionLens.modelFolders': [extra] },
  });
});
after(async () => {
  await s?.close();
});

const row = (label: string) => s.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();

test('Choose model… lists the cached models with family, parameters and size, and visualises the one picked', async () => {
  // The workbench finishes starting (extensions, file index) before the palette is used.
  await s.page.waitForTimeout(5000);
  await openFile(s.page, 'notes.txt');
  await runCommand(s.page, 'Attention Lens: Choose model…');
  // The list is long (built-ins first) and virtualised: filter it to the cached models.
  await row('tinystories').waitFor({ timeout: 30_000 });
  await s.page.keyboard.type('tiny-org');
  const gpt2 = row('tiny-org/tiny-gpt2@main');
  await gpt2.waitFor({ timeout: 30_000 });
  assert.match((await gpt2.textContent()) ?? '', /gpt2 · [\d.]+K parameters · [\d.]+ kB/);
  const bert = row('tiny-org/tiny-bert@main');
  await bert.waitFor({ timeout: 10_000 });
  assert.match((await bert.textContent()) ?? '', /bert · [\d.]+K parameters/);
  await s.shot('hf-cache-choose');
  await gpt2.click();
  const input = s.page.locator('.quick-input-widget:not([style*="display: none"]) input');
  await input.waitFor({ timeout: 15_000 });
  await input.fill('The quick fox');
  await input.press('Enter');
  const frame = await panelFrame(s.page, '[data-testid="model-name"]');
  await frame.waitForFunction(
    () => document.querySelector('[data-testid="tokens"]')?.textContent?.includes('quick'),
    undefined,
    { timeout: 60_000 },
  );
  assert.equal(await frame.textContent('[data-testid="model-name"]'), 'tiny-org/tiny-gpt2');
  await s.shot('hf-cache-panel');
});
