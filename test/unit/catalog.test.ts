// shared/catalog.ts is the one list of built-in models: package.json's setting enum is checked
// against it, and every entry loads and runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleTextFor } from './sampleText';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CATALOG, DEFAULT_MODEL_ID } from '../../shared/catalog';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';

const ROOT = path.resolve(__dirname, '..', '..');
interface Setting {
  default: string;
  enum: string[];
  enumDescriptions: string[];
}
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Setting> } };
};
const setting = pkg.contributes.configuration.properties['attentionLens.model']!;

/** What the Settings editor shows under each choice: the catalog's label and description. */
const settingDescription = (m: (typeof CATALOG)[number]): string => `${m.label} — ${m.description}`;

test('package.json’s attentionLens.model enum and its descriptions are the catalog, in order', () => {
  assert.deepEqual(
    setting.enum,
    CATALOG.map((m) => m.id),
  );
  assert.deepEqual(
    setting.enumDescriptions,
    CATALOG.map(settingDescription),
    'copy these into package.json when the catalog changes',
  );
  assert.equal(setting.default, DEFAULT_MODEL_ID);
  assert.equal(new Set(CATALOG.map((m) => m.id)).size, CATALOG.length, 'ids are unique');
});

test('every catalog id loads through getModel and runs, leaking nothing', async () => {
  await initBackend();
  for (const { id } of CATALOG) {
    const model = await getModel(id);
    assert.equal(model.info.id, id, `${id}: the model says which built-in it is`);
    const before = tf.memory().numTensors;
    const trace = await model.run(sampleTextFor(id));
    assert.equal(trace.model.id, id);
    assert.ok(trace.tokens.length > 0 && trace.stages.length > 0, `${id} ran`);
    assert.equal(tf.memory().numTensors, before, `${id} leaks no tensors`);
  }
  await assert.rejects(getModel('no-such-model'), /Unknown model "no-such-model"/);
});
