// A trace owns its arrays: the worker transfers them (detaching them), so no model may put an
// array it keeps (weights, caches) into a trace. Run, detach everything, run again: same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { buffersOf } from '../../shared/workerProtocol';

const CASES: [string, string][] = [
  ['toy-self-attention', 'The cat sat on the mat.'],
  ['tinystories-656k', 'Once upon a time, there was a little dog.'],
  ['seq2seq-dates-additive', 'Monday 23rd of November 2026'],
  ['english-encoder', 'The cat sat on the warm mat.'],
  ['dates-transformer', 'Monday 23rd of November 2026'],
];

for (const [id, text] of CASES) {
  test(`${id}: traces do not alias model state`, async () => {
    await initBackend();
    const model = await getModel(id);
    const first = await model.run(text);
    const copy = first.stages.map((s) => s.tensors.map((t) => Float32Array.from(t.data)));
    const before = tf.memory().numTensors;
    // Detach every buffer, as postMessage with a transfer list does.
    structuredClone(first, { transfer: buffersOf(first.stages.flatMap((s) => s.tensors)) });
    assert.ok(
      first.stages.flatMap((s) => s.tensors).every((t) => t.data.length === 0),
      'all buffers detached',
    );
    const second = await model.run(text);
    assert.equal(tf.memory().numTensors, before);
    second.stages.forEach((s, i) =>
      s.tensors.forEach((t, j) => assert.deepEqual(t.data, copy[i]![j], `${s.id}.${t.name}`)),
    );
  });
}
