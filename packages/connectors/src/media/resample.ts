/**
 * Sample-rate conversion between the meeting's 48 kHz and the telephone rates (8 and 16 kHz), by
 * integer factors: a windowed-sinc low-pass before decimation, and after zero-stuffing on
 * interpolation. Stateful (keeps the filter's history across 20 ms frames), one per stream.
 */

function lowpass(taps: number, cutoff: number): Float32Array {
  // cutoff as a fraction of the (high) sample rate's Nyquist band, Hann-windowed sinc.
  const h = new Float32Array(taps);
  const m = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - m;
    const sinc = x === 0 ? cutoff : Math.sin(Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1));
    h[i] = sinc * w;
    sum += h[i]!;
  }
  for (let i = 0; i < taps; i++) h[i]! /= sum;
  return h;
}

export class Resampler {
  readonly from: number;
  readonly to: number;
  readonly #factor: number;
  readonly #up: boolean;
  readonly #h: Float32Array;
  #history: Float32Array;

  constructor(from: number, to: number) {
    if (from === to) throw new RangeError("no conversion needed");
    const up = to > from;
    const factor = up ? to / from : from / to;
    if (!Number.isInteger(factor)) throw new RangeError(`only integer factors (${from} -> ${to})`);
    this.from = from;
    this.to = to;
    this.#factor = factor;
    this.#up = up;
    this.#h = lowpass(factor * 16 + 1, 1 / factor);
    this.#history = new Float32Array(this.#h.length - 1);
  }

  process(input: Int16Array): Int16Array {
    const f = this.#factor;
    // The filter runs at the high rate.
    let high: Float32Array;
    if (this.#up) {
      high = new Float32Array(input.length * f);
      for (let i = 0; i < input.length; i++) high[i * f] = input[i]! * f;
    } else {
      high = Float32Array.from(input);
    }
    const taps = this.#h.length;
    const buf = new Float32Array(this.#history.length + high.length);
    buf.set(this.#history, 0);
    buf.set(high, this.#history.length);
    const outLen = this.#up ? high.length : Math.floor(high.length / f);
    const step = this.#up ? 1 : f;
    const out = new Int16Array(outLen);
    for (let o = 0; o < outLen; o++) {
      const end = o * step + taps - 1;
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += this.#h[k]! * buf[end - k]!;
      out[o] = Math.max(-32768, Math.min(32767, Math.round(acc)));
    }
    this.#history = buf.subarray(buf.length - (taps - 1)).slice();
    return out;
  }
}
