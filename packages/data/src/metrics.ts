/**
 * Evaluation metrics over logits: top-k accuracy for classifiers, mean IoU for segmentation
 * (classes absent from both prediction and label are left out of the mean, as
 * tf.keras.metrics.MeanIoU leaves them out).
 */

export type MetricName = 'top1' | 'top5' | 'miou';

/** Accumulates over batches; `value()` is the metric so far. */
export interface Metric {
  readonly name: MetricName;
  add(logits: Float32Array, labels: Int32Array, classes: number): void;
  value(): number;
  count(): number;
}

export function createMetric(name: MetricName): Metric {
  if (name === 'miou') return new MeanIou();
  return new TopK(name, name === 'top5' ? 5 : 1);
}

class TopK implements Metric {
  private hits = 0;
  private n = 0;
  constructor(readonly name: MetricName, private readonly k: number) {}
  add(logits: Float32Array, labels: Int32Array, classes: number): void {
    const rows = logits.length / classes;
    for (let r = 0; r < rows; r++) {
      const y = labels[r]!;
      const target = logits[r * classes + y]!;
      // Rank = number of classes scoring strictly higher (ties count in the label's favour).
      let higher = 0;
      for (let c = 0; c < classes; c++) if (logits[r * classes + c]! > target) higher++;
      if (higher < this.k) this.hits++;
      this.n++;
    }
  }
  value(): number {
    return this.n ? this.hits / this.n : NaN;
  }
  count(): number {
    return this.n;
  }
}

class MeanIou implements Metric {
  readonly name = 'miou' as const;
  private inter: number[] = [];
  private union: number[] = [];
  private pixels = 0;
  add(logits: Float32Array, labels: Int32Array, classes: number): void {
    const n = labels.length;
    const predIn = new Array<number>(classes).fill(0), labelIn = new Array<number>(classes).fill(0), both = new Array<number>(classes).fill(0);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
      const y = labels[i]!;
      if (y < 0 || y >= classes) continue; // ignore-label pixels (e.g. 255)
      predIn[best]!++;
      labelIn[y]!++;
      if (best === y) both[y]!++;
      this.pixels++;
    }
    for (let c = 0; c < classes; c++) {
      this.inter[c] = (this.inter[c] ?? 0) + both[c]!;
      this.union[c] = (this.union[c] ?? 0) + predIn[c]! + labelIn[c]! - both[c]!;
    }
  }
  value(): number {
    let s = 0, k = 0;
    this.union.forEach((u, c) => {
      if (u > 0) {
        s += this.inter[c]! / u;
        k++;
      }
    });
    return k ? s / k : NaN;
  }
  count(): number {
    return this.pixels;
  }
}
