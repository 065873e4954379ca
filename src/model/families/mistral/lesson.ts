// Mistral's words: the Llama-layout lesson under its own name (its scores and weights say which
// keys are inside the sliding window).
import { ropeDecoderLesson } from '../llama/lesson';

export const mistralLesson = ropeDecoderLesson('Mistral');
