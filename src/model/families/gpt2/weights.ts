// GPT-2's tensor names (GPT2Model / GPT2LMHeadModel, with or without "transformer.") → the block's
// weights. Its linear layers are Conv1D: weights stored [in, out], used as they are; the fused
// c_attn ([D, 3D]) is cut into Q, K and V at load. The attn.bias / masked_bias buffers are ignored.
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { buildWith } from '../../transformer/weights';
import type { CausalLmWeights } from '../../transformer/causalLm';
import type { Gpt2Config } from './config';

export function gpt2Weights(
  map: Map<string, SafeTensor>,
  cfg: Gpt2Config,
  where: string,
): { weights: CausalLmWeights; parameters: number } {
  const { hiddenSize: D, innerSize: I, vocabSize: V, maxPositions: P } = cfg;
  const conv = (name: string, inp: number, out: number, meaning: string, outMeaning: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [inp, out], meaning },
    { name: `${name}.bias`, shape: [out], meaning: outMeaning },
  ];
  const ln = (name: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [D], meaning: 'n_embd' },
    { name: `${name}.bias`, shape: [D], meaning: 'n_embd' },
  ];
  const specs: WeightSpec[] = [
    { name: 'wte.weight', shape: [V, D], meaning: 'vocab_size × n_embd' },
    { name: 'wpe.weight', shape: [P, D], meaning: 'n_positions × n_embd' },
  ];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `h.${l}.`;
    specs.push(
      ...ln(p + 'ln_1'),
      ...conv(p + 'attn.c_attn', D, 3 * D, 'n_embd × 3·n_embd (Conv1D stores [in, out])', '3·n_embd'),
      ...conv(p + 'attn.c_proj', D, D, 'n_embd × n_embd', 'n_embd'),
      ...ln(p + 'ln_2'),
      ...conv(p + 'mlp.c_fc', D, I, 'n_embd × n_inner (Conv1D stores [in, out])', 'n_inner'),
      ...conv(p + 'mlp.c_proj', I, D, 'n_inner × n_embd (Conv1D stores [in, out])', 'n_embd'),
    );
  }
  specs.push(...ln('ln_f'));
  // GPT2LMHeadModel's lm_head (a Linear without bias, [vocab, D]); tied to wte unless the config says otherwise.
  if (!cfg.tieEmbeddings) {
    specs.push({
      name: 'lm_head.weight',
      keys: ['lm_head.weight'],
      shape: [V, D],
      meaning: 'vocab_size × n_embd',
      context:
        'config.json sets tie_word_embeddings to false, so the output projection cannot be the token embedding wte',
    });
  }
  const found = checkWeights(map, specs, {
    where,
    candidates: (n) => ['transformer.' + n, n],
    context: `config.json says n_layer = ${cfg.numLayers}`,
  });
  let parameters = 0;
  for (const t of found.values()) parameters += t.data.length;
  const weights = buildWith(found, (m) => {
    const embed = m.table('wte.weight');
    return {
      embed,
      positions: m.table('wpe.weight'),
      lmHeadT: cfg.tieEmbeddings ? m.keep(embed.transposed()) : m.t2T('lm_head.weight'),
      finalNorm: m.layerNorm('ln_f'),
      layers: Array.from({ length: cfg.numLayers }, (_, l) => {
        const p = `h.${l}.`;
        const [q, k, v] = m.conv1dSplit(p + 'attn.c_attn', 3) as [
          ReturnType<typeof m.conv1d>,
          ReturnType<typeof m.conv1d>,
          ReturnType<typeof m.conv1d>,
        ];
        return {
          selfNorm: m.layerNorm(p + 'ln_1'),
          self: { q, k, v, o: m.conv1d(p + 'attn.c_proj') },
          mlpNorm: m.layerNorm(p + 'ln_2'),
          mlp: { up: m.conv1d(p + 'mlp.c_fc'), down: m.conv1d(p + 'mlp.c_proj') },
        };
      }),
    };
  });
  return { weights, parameters };
}
