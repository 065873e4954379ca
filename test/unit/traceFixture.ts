// A small hand-made trace for testing views and navigation without running a model.
import { tensor, type Stage, type Trace } from '../../shared/trace';

export function makeTrace(layers = 2, heads = 2, n = 3): Trace {
  const tokens = ['The', 'cat', 'sat']
    .slice(0, n)
    .map((text, i) => ({ text, id: i, start: i * 4, end: i * 4 + text.length }));
  const stages: Stage[] = [
    { id: 'tokens', kind: 'tokens', title: 'Tokens', formula: '', explanation: '', tensors: [] },
    {
      id: 'embedding',
      kind: 'embedding',
      title: 'Embedding',
      formula: 'X',
      explanation: '',
      tensors: [
        tensor(
          'X',
          [n, 4],
          ['token', 'd_model'],
          new Float32Array(n * 4).map((_, i) => i),
          { tokenAxes: { token: 'input' } },
        ),
      ],
    },
  ];
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(heads * n * n);
    for (let h = 0; h < heads; h++)
      for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) w[h * n * n + q * n + k] = 1 / (q + 1);
    const attention = {
      queries: 'input',
      keys: 'input',
      causal: true,
      score: 'scaled-dot',
      normaliser: 'softmax',
    } as const;
    stages.push(
      {
        id: `L${l}.scores`,
        kind: 'score',
        layer: l,
        attention,
        title: `Layer ${l} scores`,
        formula: 'QKᵀ/√d',
        explanation: '',
        tensors: [
          tensor(
            'scores',
            [heads, n, n],
            ['head', 'query', 'key'],
            w.map((x) => x * 2 - 1),
            { tokenAxes: { query: 'input', key: 'input' } },
          ),
        ],
      },
      {
        id: `L${l}.weights`,
        kind: 'normalise',
        layer: l,
        attention,
        title: `Layer ${l} weights`,
        formula: 'softmax',
        explanation: '',
        tensors: [
          tensor('weights', [heads, n, n], ['head', 'query', 'key'], w, {
            tokenAxes: { query: 'input', key: 'input' },
          }),
        ],
      },
    );
  }
  return {
    version: 1,
    model: { id: 'fixture', name: 'Fixture', family: 'test', description: '', layers, heads, dModel: 4 },
    text: 'The cat sat',
    tokens,
    stages,
    warnings: [],
    backend: 'none',
    elapsedMs: 0,
  };
}
