/**
 * A small line chart as a PNG, with no dependency: pixels drawn into an RGB buffer (lines, marks,
 * a built-in 5×7 bitmap font for the labels) and encoded with node:zlib.
 *
 * PNG layout: the 8-byte signature, then chunks of [length:u32][type:4][data][crc32 of type+data]:
 * IHDR (width, height, bit depth 8, colour type 2 = RGB, compression 0, filter 0, interlace 0),
 * IDAT (zlib-deflated scanlines, each prefixed with filter type 0) and an empty IEND.
 */
import { deflateSync } from "node:zlib";

export type Rgb = readonly [number, number, number];

export interface Series {
  readonly name: string;
  readonly color: Rgb;
  readonly dashed?: boolean;
  /** One value per x label; undefined leaves a gap. */
  readonly values: readonly (number | undefined)[];
}

export interface LineChart {
  readonly title: string;
  readonly yLabel: string;
  readonly xLabel: string;
  readonly xLabels: readonly string[];
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
}

// Uppercase 5×7 glyphs, rows top to bottom; lowercase text is drawn in capitals.
const FONT: Record<string, readonly string[]> = {
  "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
  "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
  "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
  "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
  "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
  "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
  "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
  "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
  "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
  "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
  A: [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
  B: ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."],
  C: [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."],
  D: ["###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."],
  E: ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
  F: ["#####", "#....", "#....", "####.", "#....", "#....", "#...."],
  G: [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"],
  H: ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
  I: [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
  J: ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."],
  K: ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
  L: ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
  M: ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
  N: ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"],
  O: [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
  P: ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
  Q: [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"],
  R: ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
  S: [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
  T: ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
  U: ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
  V: ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
  W: ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."],
  X: ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
  Y: ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."],
  Z: ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"],
  " ": [".....", ".....", ".....", ".....", ".....", ".....", "....."],
  ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
  ",": [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."],
  "/": [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."],
  "(": ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."],
  ")": [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."],
  "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
  "+": [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."],
  ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
  "%": ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"],
  "=": [".....", ".....", "#####", ".....", "#####", ".....", "....."],
};

class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (Math.round(y) * this.width + Math.round(x)) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) this.set(x + dx, y + dy, c);
  }

  /** A line `thickness` pixels wide; dashed lines draw 10 pixels of every 16. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dashed = false): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    const half = Math.floor(thickness / 2);
    for (let i = 0; i <= steps; i++) {
      if (dashed && i % 16 >= 10) continue;
      const x = Math.round(x0 + ((x1 - x0) * i) / steps);
      const y = Math.round(y0 + ((y1 - y0) * i) / steps);
      this.rect(x - half, y - half, thickness, thickness, c);
    }
  }

  /** Text at (x, y) = its top left, `scale` pixels per font dot; returns the width drawn. */
  text(s: string, x: number, y: number, c: Rgb, scale = 2): number {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT["?"] ?? FONT[" "];
      glyph?.forEach((row, gy) => {
        for (let gx = 0; gx < row.length; gx++) if (row[gx] === "#") this.rect(cx + gx * scale, y + gy * scale, scale, scale, c);
      });
      cx += 6 * scale;
    }
    return cx - x;
  }

  /** Text rotated a quarter turn anticlockwise, reading bottom to top, starting at (x, y). */
  textUp(s: string, x: number, y: number, c: Rgb, scale = 2): void {
    let cy = y;
    for (const ch of s.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT[" "];
      glyph?.forEach((row, gy) => {
        for (let gx = 0; gx < row.length; gx++) if (row[gx] === "#") this.rect(x + gy * scale, cy - gx * scale, scale, scale, c);
      });
      cy -= 6 * scale;
    }
  }
}

const textWidth = (s: string, scale = 2) => s.length * 6 * scale - scale;

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.byteLength);
  out.writeUInt32BE(data.byteLength, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.byteLength)), 8 + data.byteLength);
  return out;
}

function encodePng(canvas: Canvas): Buffer {
  const { width, height, pixels } = canvas;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0;
    raw.set(pixels.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array()),
  ]);
}

/** 1, 2 or 5 times a power of ten: a tick step giving about `count` ticks up to `max`. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const BLACK: Rgb = [30, 30, 30];
const GREY: Rgb = [110, 110, 110];
const GRID: Rgb = [225, 225, 225];

export function renderLineChart(chart: LineChart): Buffer {
  const width = chart.width ?? 960;
  const height = chart.height ?? 600;
  const canvas = new Canvas(width, height);
  const left = 100;
  const right = width - 40;
  const top = 70;
  const legendRows = Math.ceil(chart.series.length / 2);
  const bottom = height - 90 - legendRows * 26;

  canvas.text(chart.title, Math.max(10, (width - textWidth(chart.title)) / 2), 24, BLACK);

  const values = chart.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const step = niceStep(Math.max(1, ...values) * 1.05, 6);
  const yMax = Math.ceil((Math.max(1, ...values) * 1.05) / step) * step;
  const yOf = (v: number) => bottom - ((bottom - top) * v) / yMax;
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const y = Math.round(yOf(v));
    canvas.line(left, y, right, y, GRID);
    const label = Number.isInteger(step) ? String(v) : v.toFixed(1);
    canvas.text(label, left - 10 - textWidth(label), y - 7, GREY);
  }
  canvas.textUp(chart.yLabel, 18, Math.round((top + bottom) / 2 + textWidth(chart.yLabel) / 2), BLACK);
  canvas.line(left, top, left, bottom, BLACK, 2);
  canvas.line(left, bottom, right, bottom, BLACK, 2);

  const n = chart.xLabels.length;
  const xOf = (i: number) => (n === 1 ? (left + right) / 2 : left + 60 + ((right - left - 120) * i) / (n - 1));
  chart.xLabels.forEach((label, i) => {
    const x = Math.round(xOf(i));
    canvas.line(x, bottom, x, bottom + 6, BLACK, 2);
    canvas.text(label, x - textWidth(label) / 2, bottom + 14, BLACK);
  });
  canvas.text(chart.xLabel, (left + right - textWidth(chart.xLabel)) / 2, bottom + 44, BLACK);

  for (const s of chart.series) {
    let previous: { x: number; y: number } | undefined;
    s.values.forEach((v, i) => {
      if (v === undefined) {
        previous = undefined;
        return;
      }
      const point = { x: Math.round(xOf(i)), y: Math.round(yOf(v)) };
      if (previous) canvas.line(previous.x, previous.y, point.x, point.y, s.color, 3, s.dashed === true);
      canvas.rect(point.x - 5, point.y - 5, 11, 11, s.color);
      previous = point;
    });
  }

  chart.series.forEach((s, i) => {
    const x = left + (i % 2) * Math.round((right - left) / 2);
    const y = bottom + 80 + Math.floor(i / 2) * 26;
    canvas.line(x, y + 7, x + 36, y + 7, s.color, 3, s.dashed === true);
    canvas.rect(x + 13, y + 2, 11, 11, s.color);
    canvas.text(s.name, x + 46, y, BLACK);
  });
  return encodePng(canvas);
}
