import pngjs from 'pngjs';
import * as jpeg from 'jpeg-js';
import { FileError } from '@tfpass/core';

/** A decoded image: interleaved 8-bit samples, `channels` per pixel (1 gray, 3 RGB, 4 RGBA). */
export interface Image {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Refuse images whose header claims more pixels than any model input needs (zip-bomb PNGs). */
const MAX_PIXELS = 64 * 1024 * 1024;

export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

export function decodeImage(bytes: Uint8Array, file: string): Image {
  const kind = sniffImage(bytes);
  if (!kind) throw new FileError(file, 'not a PNG or JPEG image (unknown signature)');
  try {
    if (kind === 'png') {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (buf.length >= 24) {
        const w = buf.readUInt32BE(16), h = buf.readUInt32BE(20);
        if (w * h > MAX_PIXELS) throw new FileError(file, `PNG of ${w}×${h} pixels is larger than the ${MAX_PIXELS}-pixel limit`);
      }
      // pngjs always hands back RGBA (8-bit, palette expanded, 16-bit scaled down).
      const png = pngjs.PNG.sync.read(buf, { skipRescale: false });
      const gray = png.color === false && !png.alpha;
      return gray ? pick(png.width, png.height, png.data, [0]) : pick(png.width, png.height, png.data, png.alpha ? [0, 1, 2, 3] : [0, 1, 2]);
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    return pick(img.width, img.height, img.data, [0, 1, 2]);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(file, `corrupt ${kind.toUpperCase()} image: ${(e as Error).message}`, { cause: e });
  }
}

function pick(width: number, height: number, rgba: Uint8Array, keep: number[]): Image {
  const n = width * height;
  const c = keep.length;
  const data = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) data[i * c + k] = rgba[i * 4 + keep[k]!]!;
  return { width, height, channels: c, data };
}

/** How an image becomes one model input. `channels` 0 = rank-3 input without a channel axis (gray). */
export interface ImageLayout {
  height: number;
  width: number;
  channels: number;
  /** `(x − mean) / std` per channel, x in [0, 255] (TOCO's `--mean_values`/`--std_dev_values`). */
  mean?: number[];
  std?: number[];
}

/**
 * Resize (bilinear, half-pixel centres: tf.image.resize's default), convert channels, scale.
 * Gray → RGB repeats the sample; RGB → gray uses ITU-R 601 luma (what libjpeg and TF's
 * rgb_to_grayscale use); alpha is dropped unless the input has 4 channels.
 */
export function imageToInput(img: Image, layout: ImageLayout): Float32Array {
  const c = Math.max(1, layout.channels);
  const { height: oh, width: ow } = layout;
  const src = convertChannels(img, c);
  const out = new Float32Array(oh * ow * c);
  const sy = img.height / oh, sx = img.width / ow;
  const ys = weights(oh, img.height, sy), xs = weights(ow, img.width, sx);
  const mean = layout.mean ?? [0], std = layout.std ?? [1];
  for (let y = 0; y < oh; y++) {
    const [y0, y1, fy] = ys[y]!;
    for (let x = 0; x < ow; x++) {
      const [x0, x1, fx] = xs[x]!;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * img.width + x0) * c + k]!, b = src[(y0 * img.width + x1) * c + k]!;
        const d = src[(y1 * img.width + x0) * c + k]!, e = src[(y1 * img.width + x1) * c + k]!;
        const top = a + (b - a) * fx, bottom = d + (e - d) * fx;
        const v = top + (bottom - top) * fy;
        out[(y * ow + x) * c + k] = (v - mean[k % mean.length]!) / std[k % std.length]!;
      }
    }
  }
  return out;
}

/** Label maps are resized with nearest neighbour (half-pixel centres), never interpolated. */
export function maskToLabels(img: Image, height: number, width: number): Int32Array {
  const out = new Int32Array(height * width);
  const sy = img.height / height, sx = img.width / width;
  for (let y = 0; y < height; y++) {
    const iy = Math.min(img.height - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < width; x++) {
      const ix = Math.min(img.width - 1, Math.floor((x + 0.5) * sx));
      out[y * width + x] = img.data[(iy * img.width + ix) * img.channels]!;
    }
  }
  return out;
}

function weights(outSize: number, inSize: number, scale: number): [number, number, number][] {
  const w: [number, number, number][] = [];
  for (let o = 0; o < outSize; o++) {
    const p = (o + 0.5) * scale - 0.5;
    const f = Math.floor(p);
    w.push([Math.max(f, 0), Math.min(Math.ceil(p), inSize - 1), p - f]);
  }
  return w;
}

function convertChannels(img: Image, c: number): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * c);
  const s = img.data, ic = img.channels;
  for (let i = 0; i < n; i++) {
    if (c === 1) {
      out[i] = ic >= 3 ? 0.299 * s[i * ic]! + 0.587 * s[i * ic + 1]! + 0.114 * s[i * ic + 2]! : s[i * ic]!;
    } else {
      for (let k = 0; k < c; k++) out[i * c + k] = ic === 1 ? (k < 3 ? s[i]! : 255) : k < ic ? s[i * ic + k]! : 255;
    }
  }
  return out;
}
