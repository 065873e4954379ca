// Qwen2 (model_type "qwen2") is the Llama layout with biases on q_proj, k_proj and v_proj, no start
// token, and its own defaults (Qwen2Config: 32768 positions, rope_theta 10000; real checkpoints set 1e6). Sliding-
// window attention (use_sliding_window) is refused by name until the block implements it.
import { parseRopeDecoderConfig, type LlamaConfig, type RopeDecoderLayout } from '../llama/config';
import { AttentionInputError } from '../../../../shared/trace';

export const QWEN2_LAYOUT: RopeDecoderLayout = { modelType: 'qwen2', name: 'Qwen2', architecture: 'Qwen2ForCausalLM', maxPositions: 32768, ropeTheta: 10000, qkvBias: true, startToken: false };

/** Validates a Hugging Face Qwen2 config.json. */
export function parseQwen2Config(raw: unknown, where = 'config.json'): LlamaConfig {
  const cfg = parseRopeDecoderConfig(raw, where, QWEN2_LAYOUT);
  const c = raw as Record<string, unknown>;
  if (c['use_sliding_window'] === true) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: use_sliding_window is true (sliding_window ${JSON.stringify(c['sliding_window'])}, from layer ${JSON.stringify(c['max_window_layers'])}); ` +
        'sliding-window attention is not supported yet, only full causal attention.',
    );
  }
  return cfg;
}
