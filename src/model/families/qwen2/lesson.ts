// Qwen2's words: the Llama-layout lesson under its own name (it adds the sentence on q/k/v biases).
import { ropeDecoderLesson } from '../llama/lesson';

export const qwen2Lesson = ropeDecoderLesson('Qwen2');
