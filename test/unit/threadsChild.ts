// Run by threads.test.ts in a fresh process (the backend is chosen once per process): prints the
// thread count and TinyStories' attention weights and logits for one sentence, as JSON.
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';

void (async () => {
  const backend = await initBackend('wasm');
  const model = await getModel('tinystories-656k');
  const before = tf.memory().numTensors;
  const trace = await model.run('Once upon a time there was a little girl who loved to play outside in the sun.');
  const all = (name: string): number[] =>
    trace.stages.flatMap((s) => s.tensors.filter((t) => t.name === name)).flatMap((t) => Array.from(t.data));
  const leaked = tf.memory().numTensors - before;
  model.dispose();
  process.stdout.write(
    JSON.stringify({ backend, label: trace.backend, weights: all('weights'), hidden: all('hidden'), leaked }),
  );
  // No process.exit: the pool's threads must not keep the process alive.
})();
