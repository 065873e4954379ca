// Runs inside the real extension host: the vscode API, our commands, the worker, the panel.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AttentionLensApi } from '../../src/extension';

const EXTENSION_ID = 'attention-lens.attention-lens';

async function api(): Promise<AttentionLensApi> {
  const ext = vscode.extensions.getExtension<AttentionLensApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : await ext.activate();
}

async function openWith(content: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ content, language: 'plaintext' });
  return vscode.window.showTextDocument(doc);
}

suite('Attention Lens in the extension host', () => {
  test('registers its commands', async () => {
    await api();
    const all = await vscode.commands.getCommands(true);
    assert.ok(all.includes('attentionLens.visualiseSelection'));
  });

  test('activation starts no inference worker: the first run does', async () => {
    const { engine, session } = await api();
    if (!session.trace) assert.equal(engine.started, false);
  });

  test('the worker starts on the wasm backend', async () => {
    const { engine } = await api();
    const b = await engine.backend();
    assert.equal(b.backend, 'wasm', b.warning);
  });

  test('runs on a selection, keeps its offsets, and opens the panel', async () => {
    const { session, panels } = await api();
    const editor = await openWith('Intro line.\nThe cat sat on the mat.\n');
    const start = editor.document.positionAt(12);
    const end = editor.document.positionAt(12 + 'The cat sat on the mat.'.length);
    editor.selection = new vscode.Selection(start, end);
    const ok = await vscode.commands.executeCommand<boolean>('attentionLens.visualiseSelection', 'toy-self-attention');
    assert.equal(ok, true);
    const trace = session.trace;
    assert.ok(trace);
    assert.equal(trace.model.id, 'toy-self-attention');
    assert.deepEqual(
      trace.tokens.filter((t) => !t.special).map((t) => t.text),
      ['The', 'cat', 'sat', 'on', 'the', 'mat', '.'],
    );
    assert.equal(session.source?.offset, 12);
    for (const t of trace.tokens.filter((t) => !t.special)) assert.equal(trace.text.slice(t.start, t.end), t.text);
    assert.equal(panels.isOpen, true);
    const weights = trace.stages.find((s) => s.kind === 'normalise')?.tensors.find((t) => t.name === 'weights');
    assert.ok(weights);
    const n = trace.tokens.length;
    assert.deepEqual([...weights.shape.slice(1)], [n, n]);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      for (let c = 0; c < n; c++) sum += weights.data[r * n + c]!;
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
    }
  });

  test('an empty selection runs nothing and says so', async () => {
    const { session } = await api();
    const before = session.trace;
    const editor = await openWith('   \n\t\n');
    editor.selection = new vscode.Selection(0, 0, 1, 1);
    const ok = await vscode.commands.executeCommand<boolean>('attentionLens.visualiseSelection', 'toy-self-attention');
    assert.equal(ok, false);
    assert.equal(session.trace, before);
  });

  test('the worker leaks no tensors across runs', async () => {
    const { engine } = await api();
    const before = await engine.memory();
    await engine.run({ modelId: 'toy-self-attention', text: 'Attention is a weighted mean.' }).promise;
    const after = await engine.memory();
    assert.equal(after.numTensors, before.numTensors);
  });

  test('the hover provider lists the attended tokens of the current head', async () => {
    const { session } = await api();
    const editor = await openWith('Attention is a weighted mean of values.');
    editor.selection = new vscode.Selection(0, 0, 0, editor.document.lineAt(0).text.length);
    assert.equal(
      await vscode.commands.executeCommand<boolean>('attentionLens.visualiseSelection', 'toy-self-attention'),
      true,
    );
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      editor.document.uri,
      new vscode.Position(0, 16),
    );
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /weighted/);
    assert.match(text, /attends to/);
    assert.ok(session.trace);
  });

  test('stale results are marked, never shown wrong', async () => {
    const editor = await openWith('The cat sat on the mat.');
    editor.selection = new vscode.Selection(0, 0, 0, 23);
    assert.equal(
      await vscode.commands.executeCommand<boolean>('attentionLens.visualiseSelection', 'toy-self-attention'),
      true,
    );
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'A '));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      editor.document.uri,
      new vscode.Position(0, 6),
    );
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /out of date/);
    assert.doesNotMatch(text, /attends to/);
  });

  test('step commands move the cursor and the context keys follow', async () => {
    const { session } = await api();
    const before = session.cursor.stage;
    await vscode.commands.executeCommand('attentionLens.nextStage');
    assert.equal(session.cursor.stage, before + 1);
    await vscode.commands.executeCommand('attentionLens.nextHead');
    assert.equal(session.cursor.head, 1);
    await vscode.commands.executeCommand('attentionLens.previousStage');
    assert.equal(session.cursor.stage, before);
  });

  test('a cancelled run stops, reports cancelled and leaks no tensors', async () => {
    const { engine } = await api();
    const before = await engine.memory();
    const handle = engine.run({ modelId: 'toy-self-attention', text: 'word '.repeat(2000), maxTokens: 2048 });
    handle.cancel();
    await assert.rejects(handle.promise, /cancel/i);
    const after = await engine.memory();
    assert.equal(after.numTensors, before.numTensors);
  });

  test('a broken *.attention.json gets a diagnostic at the matrix, with both sizes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'al-config-'));
    const file = vscode.Uri.file(`${dir}/broken.attention.json`);
    const text = JSON.stringify(
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
    );
    await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(text));
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    let diags: vscode.Diagnostic[] = [];
    for (let i = 0; i < 50 && diags.length === 0; i++) {
      diags = vscode.languages.getDiagnostics(file).filter((d) => d.source === 'Attention Lens');
      if (diags.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(diags.length > 0, 'no diagnostic');
    assert.match(diags[0]!.message, /"W_q" is 4×2 but .* 3×2/);
    assert.equal(doc.getText(diags[0]!.range), '"W_q"');
  });

  test('visualising a hand-built config runs its own matrices', async () => {
    const { session } = await api();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(root, 'the samples folder is open');
    const ok = await vscode.commands.executeCommand<boolean>(
      'attentionLens.visualiseConfig',
      vscode.Uri.joinPath(root, 'configs', 'dot-product-3-tokens.attention.json'),
    );
    assert.equal(ok, true);
    assert.equal(session.trace?.model.family, 'hand-built');
    const scores = session.trace!.stages.find((s) => s.kind === 'score')!.tensors[0]!;
    assert.deepEqual([...scores.data.slice(0, 3)], [2, 4, 4]);
  });
});
