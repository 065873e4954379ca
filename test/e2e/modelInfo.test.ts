// "Show model info" as a person uses it in code-server (issue 16, item 7): after a run on the
// default model (TinyStories), the command opens the panel's model info (family, parameters,
// layers, heads, K/V heads, width, vocabulary, context, positional scheme, files and sizes,
// licence and credit) and no Untitled editor; the header's button closes and reopens it.
// Numbers checked against the model's own config.json and files. Screenshot looked at.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  explorerRow,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  retry,
  runCommand,
  selectLine,
  type Session,
} from './harness';

const ROOT = path.join(__dirname, '..', '..');
const MODEL = path.join(ROOT, 'models', 'tinystories-656k');
const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-info-'));
writeFileSync(path.join(folder, 'story.txt'), 'Once upon a time, there was a little girl named Mia.\n');

let s: Session | undefined;
after(async () => {
  await s?.close();
});

async function rows(frame: Frame, table: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of await frame.locator(`[data-testid="${table}"] tbody tr`).all())
    out[(await r.locator('th').textContent()) ?? ''] = (await r.locator('td').textContent()) ?? '';
  return out;
}

test('Show model info opens the panel’s model info, not an Untitled editor; the header reopens it', async () => {
  s = await retry(3, () => launch({ folder, colorTheme: 'Default Dark Modern' }));
  await explorerRow(s.page, 'story.txt').waitFor({ timeout: 90_000 });
  await openFile(s.page, 'story.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  const frame = await panelFrame(s.page, '[data-testid="tokens"]');
  const tabsBefore = await s.page.locator('.tabs-container .tab').count();

  await runCommand(s.page, 'Attention Lens: Show model info');
  await frame.locator('[data-testid="model-info"]').waitFor({ timeout: 15_000 });
  const cfg = JSON.parse(readFileSync(path.join(MODEL, 'config.json'), 'utf8')) as Record<string, number>;
  const info = await rows(frame, 'model-info-rows');
  assert.equal(info['family'], 'llama');
  assert.equal(info['parameters'], '656,000');
  assert.equal(info['layers'], String(cfg.num_hidden_layers));
  assert.equal(info['heads'], String(cfg.num_attention_heads));
  assert.equal(info['key/value heads'], `${cfg.num_key_value_heads} (grouped-query: 2 query heads share each)`);
  assert.equal(info['width d_model'], String(cfg.hidden_size));
  assert.equal(info['vocabulary'], `${cfg.vocab_size!.toLocaleString('en-US')} tokens`);
  assert.equal(info['context'], `${cfg.max_position_embeddings} positions`);
  assert.equal(info['positional scheme'], `rotary (RoPE), θ = ${cfg.rope_theta}`);
  assert.equal(info['licence'], 'Apache-2.0');
  assert.match(info['credit'] ?? '', /raincandy-u\/TinyStories-656K/);
  const files = await rows(frame, 'model-info-files');
  const bytes = statSync(path.join(MODEL, 'model.safetensors')).size;
  assert.equal(files['model.safetensors'], `${(bytes / 1024 / 1024).toFixed(2)} MB`);
  assert.equal(files['config.json'], `${statSync(path.join(MODEL, 'config.json')).size} B`);
  assert.ok(files['tokenizer.json'] && files['LICENSE'], Object.keys(files).join(', '));
  assert.equal(await frame.getAttribute('[data-testid="model-info-button"]', 'aria-expanded'), 'true');

  // No Untitled document: the editor tabs are the ones there were.
  const tabs = await s.page.locator('.tabs-container .tab').allTextContents();
  assert.equal(tabs.length, tabsBefore, `editor tabs: ${tabs.join(' | ')}`);
  assert.ok(!tabs.some((t) => /Untitled/i.test(t)), `no Untitled editor: ${tabs.join(' | ')}`);
  await s.shot('model-info-dark');

  // The header's button closes and reopens it.
  await frame.click('[data-testid="model-info-close"]');
  await frame.locator('[data-testid="model-info"]').waitFor({ state: 'detached' });
  assert.equal(await frame.textContent('[data-testid="model-info-button"]'), 'Model info');
  await frame.click('[data-testid="model-info-button"]');
  await frame.locator('[data-testid="model-info"]').waitFor();
  assert.equal((await rows(frame, 'model-info-rows'))['layers'], String(cfg.num_hidden_layers));
});
