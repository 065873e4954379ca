// The three import zones are enforced by ESLint (eslint.config.mjs): a file that imports across
// them fails the lint, and the build's `npm run lint` with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '..', '..');
const eslint = new ESLint({ cwd: ROOT });

async function importErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, filePath) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const CASES: [string, string, RegExp][] = [
  [
    'webview/x.ts',
    "import { getModel } from '../src/model/open/builtins';\nexport const f = getModel;\n",
    /src\/ and webview\/ never import each other/,
  ],
  [
    'webview/components/x.ts',
    "import { Session } from '../../src/session';\nexport type S = Session;\n",
    /never import each other/,
  ],
  ['webview/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const t = tf;\n", /worker computes/],
  ['webview/x.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n", /cannot import vscode/],
  ['src/panel/x.ts', "import { Rpc } from '../../webview/rpc';\nexport const r = Rpc;\n", /never import each other/],
  ['src/model/x.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n", /src\/model runs in plain Node/],
  [
    'src/model/trace/x.ts',
    "import { h } from '../../../webview/dom';\nexport const x = h;\n",
    /never import each other/,
  ],
  ['shared/x.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n", /no vscode here/],
  ['shared/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const t = tf;\n", /shared\/ has no tfjs/],
  ['shared/x.ts', "import * as fs from 'node:fs';\nexport const f = fs;\n", /no Node built-ins/],
  [
    'shared/x.ts',
    "import { EngineClient } from '../src/engine/client';\nexport const e = EngineClient;\n",
    /imports nothing from src/,
  ],
  ['shared/x.ts', "import { Rpc } from '../webview/rpc';\nexport const r = Rpc;\n", /imports nothing from webview/],
];

for (const [file, code, why] of CASES) {
  test(`${file}: ${code.split('\n')[0]} fails the lint`, async () => {
    const errors = await importErrors(file, code);
    assert.equal(errors.length, 1, `expected one zone error, got ${JSON.stringify(errors)}`);
    assert.match(errors[0]!, why);
  });
}

test('imports within the rules pass', async () => {
  assert.deepEqual(
    await importErrors('webview/x.ts', "import { blockOf } from '../shared/navigation';\nexport const b = blockOf;\n"),
    [],
  );
  assert.deepEqual(
    await importErrors(
      'src/panel/x.ts',
      "import * as vscode from 'vscode';\nimport { Channel } from '../../shared/channel';\nexport const x = [vscode, Channel];\n",
    ),
    [],
  );
  assert.deepEqual(
    await importErrors('src/worker/x.ts', "import { tf } from '../model/runtime/backend';\nexport const t = tf;\n"),
    [],
  );
});
