// SmolLM3's words: the Llama-layout lesson under its own name (its NoPE layers say they have no RoPE).
import { ropeDecoderLesson } from '../llama/lesson';

export const smolLm3Lesson = ropeDecoderLesson('SmolLM3');
