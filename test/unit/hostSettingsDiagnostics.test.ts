// Two host-side guarantees, through the real modules with only the vscode API surface they call faked:
//  - settings (src/config.ts): in an untrusted workspace a restricted setting comes from the user's
//    own settings (inspect().globalValue) or the default, never from the workspace, even when
//    get() would return the workspace's value; unrestricted ones and trusted workspaces read get();
//    every value is clamped; the restricted list is package.json's restrictedConfigurations;
//  - *.attention.json diagnostics (src/configs/diagnostics.ts): checked on open, a burst of edits is
//    checked once after the quiet time with the last text, a document closed meanwhile is not
//    checked and loses its problems, and a slow check of an old version (a large config in the
//    real checker worker) never overwrites the newer version's problems.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Module from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

// ── the vscode surface ────────────────────────────────────────────────────────────────────────
type Listener<T> = (e: T) => void;
class Emitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (l: Listener<T>) => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
}

interface Inspect {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}
/** Settings by key: what inspect() reports; get() returns the most specific value, as VS Code's does. */
let settings: Record<string, Inspect> = {};
const configuration = {
  get: (key: string) => {
    const i = settings[key];
    return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue ?? i?.defaultValue;
  },
  inspect: (key: string) => (settings[key] ? { key: `attentionLens.${key}`, ...settings[key] } : undefined),
};

class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}
class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
}
class Diagnostic {
  source?: string;
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: number,
  ) {}
}
const collections: Map<string, Diagnostic[]>[] = [];
const opened = new Emitter<FakeDoc>();
const changed = new Emitter<{ document: FakeDoc }>();
const closed = new Emitter<FakeDoc>();

class FakeDoc {
  version = 1;
  isClosed = false;
  constructor(
    readonly name: string,
    private text: string,
  ) {}
  get uri() {
    const name = this.name;
    return { path: `/ws/${name}`, fsPath: `/ws/${name}`, toString: () => `file:///ws/${name}` };
  }
  getText(): string {
    return this.text;
  }
  positionAt(offset: number): Position {
    const before = this.text.slice(0, offset).split('\n');
    return new Position(before.length - 1, before.at(-1)!.length);
  }
  edit(text: string): void {
    this.text = text;
    this.version++;
    changed.fire({ document: this });
  }
  close(): void {
    this.isClosed = true;
    closed.fire(this);
  }
}

const fake = {
  workspace: {
    isTrusted: true,
    workspaceFolders: [{ uri: { fsPath: '/ws' } }],
    getConfiguration: (section: string) => {
      assert.equal(section, 'attentionLens');
      return configuration;
    },
    textDocuments: [] as FakeDoc[],
    onDidOpenTextDocument: opened.event,
    onDidChangeTextDocument: changed.event,
    onDidCloseTextDocument: closed.event,
  },
  languages: {
    createDiagnosticCollection: () => {
      const map = new Map<string, Diagnostic[]>();
      collections.push(map);
      return {
        set: (uri: { toString(): string }, d: Diagnostic[]) => map.set(uri.toString(), d),
        delete: (uri: { toString(): string }) => map.delete(uri.toString()),
        dispose: () => map.clear(),
      };
    },
  },
  Diagnostic,
  Range,
  Position,
  DiagnosticSeverity: { Error: 0, Warning: 1 },
  Disposable: {
    from: (...parts: { dispose(): unknown }[]) => ({ dispose: () => parts.forEach((p) => p.dispose()) }),
  },
};
const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = loader._load;
loader._load = (request, ...rest) => (request === 'vscode' ? fake : load(request, ...rest));

/* eslint-disable @typescript-eslint/no-require-imports -- loaded after the fake is installed */
const { readConfig, readModelFolders, RESTRICTED_SETTINGS, INTEGER_SETTINGS } =
  require('../../src/config') as typeof import('../../src/config');
const { registerConfigDiagnostics, DIAGNOSTICS_DEBOUNCE_MS } =
  require('../../src/configs/diagnostics') as typeof import('../../src/configs/diagnostics');
const { ConfigChecker } = require('../../src/configs/offThread') as typeof import('../../src/configs/offThread');
/* eslint-enable @typescript-eslint/no-require-imports */

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'dist', 'configWorker.js');

/** Every setting with a default, a user value and a hostile workspace value. */
function hostileWorkspace(): void {
  settings = {
    modelFile: { defaultValue: '', workspaceValue: '/etc/shadow.safetensors' },
    modelFolders: { defaultValue: [], globalValue: ['/home/me/models'], workspaceValue: ['/', '/proc'] },
    maxTokens: { defaultValue: 256, globalValue: 512, workspaceValue: 100_000_000 },
    threads: { defaultValue: 0, workspaceFolderValue: 8 },
    memoryBudgetMB: { defaultValue: 2048, globalValue: 1024, workspaceValue: 65536 },
    runTimeoutSeconds: { defaultValue: 300, workspaceValue: 0 },
    'hover.topK': { defaultValue: 5, workspaceValue: 7 },
    colourMap: { defaultValue: 'viridis', workspaceValue: 'magma' },
    model: { defaultValue: 'tinystories-656k', workspaceValue: 'dates-transformer' },
  };
}

test('untrusted: restricted settings come from the user settings or the default, never the workspace', () => {
  hostileWorkspace();
  fake.workspace.isTrusted = false;
  const c = readConfig();
  assert.equal(c.modelFile, undefined, 'the workspace modelFile is ignored');
  assert.equal(c.model, 'dates-transformer', 'model is not restricted: a built-in id costs nothing');
  assert.equal(c.maxTokens, 512, "the user's maxTokens, not the workspace's");
  assert.equal(c.threads, 0, 'no user value: the default, not the folder value');
  assert.equal(c.memoryBudgetMB, 1024);
  assert.equal(c.runTimeoutSeconds, 300, 'the workspace cannot switch the watchdog off');
  assert.equal(c.topK, 7, 'unrestricted settings read the workspace');
  assert.equal(c.colourMap, 'magma');
  assert.deepEqual(readModelFolders(), ['/home/me/models'], 'the search folders are the user’s');
});

test('trusted: the workspace values are read, clamped to their bounds', () => {
  hostileWorkspace();
  fake.workspace.isTrusted = true;
  const c = readConfig();
  assert.equal(c.modelFile, '/etc/shadow.safetensors');
  assert.equal(c.model, 'file:/etc/shadow.safetensors');
  assert.equal(c.maxTokens, INTEGER_SETTINGS.maxTokens[1], '1e8 is clamped to 2048');
  assert.equal(c.threads, 8);
  assert.equal(c.memoryBudgetMB, 65536);
  assert.equal(c.runTimeoutSeconds, 0);
  assert.deepEqual(readModelFolders(), ['/', '/proc']);
  // Values of the wrong type or out of range, from any scope: the default or the bound.
  settings = {
    maxTokens: { defaultValue: 256, globalValue: 'abc' },
    threads: { defaultValue: 0, globalValue: -3 },
    memoryBudgetMB: { defaultValue: 2048, globalValue: Number.NaN },
    'hover.topK': { defaultValue: 5, globalValue: 9.6 },
    modelFolders: { defaultValue: [], globalValue: ['/a', 3, '', null, '/b'] },
    scoreFunction: { defaultValue: 'scaled-dot', globalValue: 'cosine' },
  };
  const d = readConfig();
  assert.equal(d.maxTokens, 256);
  assert.equal(d.threads, 0);
  assert.equal(d.memoryBudgetMB, 2048);
  assert.equal(d.topK, 10);
  assert.equal(d.score, 'scaled-dot');
  assert.deepEqual(readModelFolders(), ['/a', '/b']);
});

test("the restricted list is package.json's restrictedConfigurations, and each restricted setting exists", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
    contributes: { configuration: { properties: Record<string, unknown> } };
  };
  const declared = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
  assert.deepEqual([...declared].sort(), RESTRICTED_SETTINGS.map((k) => `attentionLens.${k}`).sort());
  for (const key of declared) assert.ok(key in pkg.contributes.configuration.properties, key);
});

// ── diagnostics ───────────────────────────────────────────────────────────────────────────────
const VALID = JSON.stringify({
  kind: 'hand-built',
  tokens: ['a', 'b'],
  embeddings: [
    [1, 0],
    [0, 1],
  ],
  W_q: [
    [1, 0],
    [0, 1],
  ],
  W_k: [
    [1, 0],
    [0, 1],
  ],
  W_v: [
    [1, 0],
    [0, 1],
  ],
});
const BROKEN = '{ "kind": "hand-built", "tokens": [1, 2] }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real checker, counting the texts it was asked about. */
class CountingChecker extends ConfigChecker {
  readonly asked: string[] = [];
  readonly answers: ReturnType<InstanceType<typeof ConfigChecker>['parse']>[] = [];
  override parse(text: string) {
    this.asked.push(text);
    const answer = super.parse(text);
    this.answers.push(answer);
    return answer;
  }
}

test('diagnostics: checked on open; a burst of edits is checked once, after the quiet time, with the last text', async () => {
  assert.equal(DIAGNOSTICS_DEBOUNCE_MS, 300);
  const checker = new CountingChecker(WORKER);
  const already = new FakeDoc('open.attention.json', BROKEN);
  const other = new FakeDoc('notes.json', BROKEN);
  fake.workspace.textDocuments = [already, other];
  const quiet = 120;
  const registration = registerConfigDiagnostics(checker, quiet);
  const problems = collections.at(-1)!;
  try {
    await sleep(0);
    assert.deepEqual(checker.asked, [BROKEN], 'the open config is checked at once; notes.json never');
    assert.ok(problems.get(already.uri.toString())!.length > 0);
    assert.equal(problems.get(already.uri.toString())![0]!.source, 'Attention Lens');

    const doc = new FakeDoc('typing.attention.json', VALID);
    opened.fire(doc);
    await sleep(0);
    assert.equal(checker.asked.length, 2, 'checked when opened');
    assert.deepEqual(problems.get(doc.uri.toString()), []);
    // Ten keystrokes 10 ms apart: nothing is checked while typing goes on.
    for (let k = 1; k <= 10; k++) {
      doc.edit(VALID.slice(0, VALID.length - k));
      await sleep(10);
    }
    assert.equal(checker.asked.length, 2, 'no check during the burst');
    await sleep(quiet + 60);
    assert.equal(checker.asked.length, 3, 'one check after it');
    assert.equal(checker.asked[2], VALID.slice(0, VALID.length - 10), 'of the last text');
    const d = problems.get(doc.uri.toString())!;
    assert.ok(d.length > 0 && d[0]!.severity === 0, 'the truncated JSON is an error');

    // An edit, then the document closes before the quiet time: no check, and its problems go.
    doc.edit(BROKEN);
    doc.close();
    await sleep(quiet + 60);
    assert.equal(checker.asked.length, 3, 'a closed document is not checked');
    assert.equal(problems.has(doc.uri.toString()), false, 'its problems are removed');
  } finally {
    registration.dispose();
    checker.dispose();
  }
});

test(
  'diagnostics: a slow check of an old version never overwrites the newer version’s problems',
  { skip: !existsSync(WORKER) && 'run `npm run build` first' },
  async () => {
    const checker = new CountingChecker(WORKER);
    fake.workspace.textDocuments = [];
    const registration = registerConfigDiagnostics(checker, 20);
    const problems = collections.at(-1)!;
    try {
      // A valid config of ~2.5 MB: checked in the worker, which takes a while.
      const row = Array.from({ length: 300 }, (_, i) => Math.sin(i) / 3);
      const big = JSON.stringify({
        kind: 'hand-built',
        tokens: Array.from({ length: 1000 }, (_, i) => `t${i}`),
        embeddings: Array.from({ length: 1000 }, () => row),
        W_q: row.map(() => [1, 0]),
        W_k: row.map(() => [0, 1]),
        W_v: row.map(() => [1, 1]),
      });
      const doc = new FakeDoc('big.attention.json', big);
      opened.fire(doc);
      await sleep(0);
      assert.equal(checker.asked.length, 1);
      // While the worker parses version 1, the user breaks the file (version 2, checked in place).
      doc.edit(BROKEN);
      await sleep(60);
      assert.equal(checker.asked.length, 2);
      const newer = problems.get(doc.uri.toString());
      assert.ok(newer && newer.length > 0, 'version 2 has its problems');
      assert.equal(checker.started, 1, 'version 1 went to the worker');
      // Version 1's answer arrives later: it finds nothing wrong, and must be dropped.
      const old = await checker.answers[0]!;
      assert.deepEqual(old.problems, []);
      await sleep(20);
      assert.equal(problems.get(doc.uri.toString()), newer, 'the old version’s empty result did not replace them');
    } finally {
      registration.dispose();
      checker.dispose();
    }
  },
);
