// Phi-3's words: the Llama-layout lesson under its own name (partial rotary, longrope and the
// sliding window are said by the shared lesson from the config).
import { ropeDecoderLesson } from '../llama/lesson';

export const phi3Lesson = ropeDecoderLesson('Phi-3');
