// "Export the run as safetensors…" as a person uses it: after a run, the command palette, the save
// dialog; the file and its index read back equal, bit for bit, to the same run made by the CLI.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  answerSaveDialog,
  cliTrace,
  launch,
  openFile,
  panelFrame,
  rightClickMenu,
  runCommand,
  selectLine,
  type Session,
} from './harness';
import { readTraceExport } from '../../src/model/formats/safetensorsWriter';

const TEXT = 'The black cat sat on the warm mat.';
let s: Session;
before(async () => {
  s = await launch({ settings: { 'attentionLens.model': 'toy-self-attention' } });
  await openFile(s.page, 'translation.txt');
  await selectLine(s.page, 1);
  await rightClickMenu(s.page, 'Visualise attention');
  await panelFrame(s.page, '[data-testid="tokens"]');
});
after(async () => {
  await s?.close();
});

test('the run exported as safetensors reads back equal to the CLI’s run of the same text', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'attention-lens-trace-')), 'toy.safetensors');
  await runCommand(s.page, 'Attention Lens: Export the run as safetensors…');
  await answerSaveDialog(s.page, file);
  const index = file.replace(/\.safetensors$/, '.index.json');
  for (let i = 0; i < 100 && !(existsSync(file) && existsSync(index)); i++) await s.page.waitForTimeout(300);
  await s.page.locator('.notifications-toasts', { hasText: 'exported' }).first().waitFor({ timeout: 30_000 });
  await s.shot('export-trace-done');
  const got = await readTraceExport(file);
  const want = cliTrace('toy-self-attention', TEXT);
  assert.deepEqual(
    got.tokens.map((t) => t.text),
    want.tokens.map((t) => t.text),
  );
  assert.equal(got.stages.length, want.stages.length);
  for (const [i, st] of want.stages.entries())
    for (const t of st.tensors) {
      const g = got.stages[i]!.tensors.find((x) => x.name === t.name)!;
      assert.deepEqual(g.shape, t.shape, `${st.id}/${t.name}`);
      assert.deepEqual(
        new Uint32Array(g.data.buffer, g.data.byteOffset, g.data.length),
        new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
        `${st.id}/${t.name}`,
      );
    }
});
