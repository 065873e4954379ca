// Thin re-exports while other families still import from here: the grab-bag this file was has been
// split by job. Import from the homes instead:
//   runtime/read.ts (f32), formats/hfFolder.ts (readJsonFile, findBuiltinDir, configReader),
//   layers/ (norms, activations, linear, embedding, positions), attention/multiHead.ts,
//   trace/stages.ts (attentionStages, topKTensors, topKRows), transformer/ (block, causal LM,
//   loader head/tail, weight helpers), families/bert/align.ts (alignNormalised).
export { f32 } from '../runtime/read';
export { configReader, findBuiltinDir, readJsonFile } from '../formats/hfFolder';
export { yieldToEventLoop } from '../model';
export { layerNorm, rmsNorm, type LN } from '../layers/norms';
export { ACTIVATION_FORMULA, ACTIVATIONS, activate, type Activation } from '../layers/activations';
export { dense, type Dense } from '../layers/linear';
export { EmbeddingTable } from '../layers/embedding';
export { recordAttention, type AttentionRecord, type MultiHeadTensors } from '../attention/multiHead';
export { attentionStages, topKRows, topKTensors, type AttentionStageSpec } from './stages';
export { appendedText, greedyTokens } from '../transformer/causalLm';
export { folderIdentity, LoadedModel } from '../transformer/load';
export { disposeTensorsIn, weightMaker, type WeightMaker } from '../transformer/weights';
export { alignNormalised, type AlignPiece } from '../families/bert/align';
