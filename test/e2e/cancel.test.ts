// Cancel a long run from the progress notification, as a person would: the run stops, the editor
// says so, and VS Code stays responsive; layers that streamed in before it are labelled partial.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launch, openFile, panelFrame, runCommand, type Session } from './harness';

let s: Session;
before(async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-long-'));
  // 10k characters of prose; the cpu backend makes a 512-token run take seconds, long enough to cancel.
  const sentence = 'Once upon a time, there was a little girl named Mia who loved to play in the park. ';
  writeFileSync(path.join(folder, 'long.txt'), sentence.repeat(Math.ceil(10_000 / sentence.length)));
  s = await launch({ folder, settings: { 'attentionLens.backend': 'cpu', 'attentionLens.maxTokens': 2048 } });
});
after(async () => {
  await s?.close();
});

test('Cancel in the progress notification stops a long run and the window stays responsive', async () => {
  await openFile(s.page, 'long.txt');
  await runCommand(s.page, 'Attention Lens: Visualise attention');
  const cancel = s.page.locator('.notifications-toasts .monaco-button', { hasText: 'Cancel' }).first();
  await cancel.waitFor({ timeout: 30_000 });
  await s.shot('cancel-progress');
  await cancel.click();
  const t0 = Date.now();
  await s.page.locator('.notifications-toasts', { hasText: 'run cancelled' }).first().waitFor({ timeout: 15_000 });
  const stopped = Date.now() - t0;
  await s.shot('cancel-done');
  assert.ok(stopped < 10_000, `cancel took ${stopped} ms`);
  // Responsive: the command palette opens and runs a command at once.
  const t1 = Date.now();
  await runCommand(s.page, 'Attention Lens: Choose model…');
  await s.page.locator('.quick-input-widget', { hasText: 'TinyStories' }).first().waitFor({ timeout: 5000 });
  assert.ok(Date.now() - t1 < 5000);
  await s.page.keyboard.press('Escape');
  // Layers stream into the panel as they finish: if some arrived before the cancel, the panel says
  // they are part of a cancelled run; it never presents them as a finished run.
  if ((await s.page.locator('.tab', { hasText: 'Attention Lens' }).count()) > 0) {
    const frame = await panelFrame(s.page, '[data-testid="stage-title"]', 30_000);
    await frame.waitForFunction(
      () =>
        /^Partial run: \d+ of \d+ layers? arrived; the run was cancelled/.test(
          document.querySelector('.stream-note')?.textContent ?? '',
        ),
      undefined,
      { timeout: 15_000 },
    );
    await s.shot('cancel-partial');
  }
});
