// Qwen3's words: the Llama-layout lesson under its own name (it adds the sentence on QK-norm).
import { ropeDecoderLesson } from '../llama/lesson';

export const qwen3Lesson = ropeDecoderLesson('Qwen3');
