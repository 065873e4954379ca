// The core's per-layer self-attention inputs (transformer/selfInputs.ts): each distinct sliding
// window gets one additive mask and each distinct RoPE setting one pair of tables, shared by the
// layers that agree; the masks are the one mask builder's; dispose frees them all, even when they
// were first made inside a tf.tidy.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { SelfInputs } from '../../src/model/transformer/selfInputs';
import { scaledDot, type AttentionConfig } from '../../src/model/transformer/config';
import { additiveMask, allowedMask } from '../../src/model/attention/mask';
import { ropeTables } from '../../src/model/layers/positions';

before(async () => {
  await initBackend();
});

const attn = (window?: number, theta?: number): AttentionConfig => ({
  heads: 2,
  kvHeads: 1,
  headDim: 4,
  causal: true,
  scale: scaledDot(4),
  ...(theta !== undefined ? { rope: { theta, rotaryDim: 4 } } : {}),
  ...(window !== undefined ? { slidingWindow: window } : {}),
});

test('layers that agree share one mask and one pair of RoPE tables; each matches the one builder; dispose frees all', () => {
  const start = tf.memory().numTensors;
  const T = 6;
  const s = new SelfInputs(T, true);
  let local!: ReturnType<SelfInputs['for']>;
  tf.tidy(() => {
    local = s.for(attn(3, 10000)); // made inside a tidy, still alive after it
  });
  const global = s.for(attn(undefined, 1e6));
  const local2 = s.for(attn(3, 10000));
  const nope = s.for(attn(3));
  assert.equal(local2.selfMask, local.selfMask, 'same window: the same mask tensor');
  assert.equal(local2.rope, local.rope, 'same RoPE: the same tables');
  assert.equal(nope.selfMask, local.selfMask);
  assert.equal(nope.rope, undefined, 'no RoPE in this layer: no tables');
  assert.notEqual(global.selfMask, local.selfMask);
  assert.equal(local.selfWindow, 3);
  assert.equal(global.selfWindow, undefined);
  assert.deepEqual(
    Array.from(local.selfMask!.dataSync()),
    Array.from(additiveMask({ queries: T, keys: T, causal: true, window: 3 })),
  );
  assert.deepEqual(
    Array.from(global.selfMask!.dataSync()),
    Array.from(additiveMask({ queries: T, keys: T, causal: true })),
  );
  assert.deepEqual(
    Array.from(s.allowed(attn(3))),
    Array.from(allowedMask({ queries: T, keys: T, causal: true, window: 3 })),
  );
  assert.deepEqual(
    Array.from(global.rope!.cos.dataSync()),
    Array.from(ropeTables(T, { theta: 1e6, rotaryDim: 4 }).cos),
  );
  assert.equal(tf.memory().numTensors, start + 2 + 4, 'two masks and two pairs of tables');
  s.dispose();
  assert.equal(tf.memory().numTensors, start, 'dispose frees every mask and table');
});
