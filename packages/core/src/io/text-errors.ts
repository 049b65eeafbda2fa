/**
 * line:column for text-format parse errors, which protobuf-es reports without a position.
 */
import { fromText } from '@bufbuild/protobuf/txtpb';
import { GraphFormatError } from '../errors.js';

/**
 * Index of the last character protobuf-es read before failing. Its errors carry no position,
 * so on the error path we parse again through a proxy string that records every index read.
 */
function lastIndexRead(schema: Parameters<typeof fromText>[0], text: string): number {
  let max = -1;
  const proxy = new Proxy(new String(text), {
    get(_t, k) {
      if (typeof k === 'string') {
        const c = k.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = Number(k);
          if (i > max) max = i;
          return text[i];
        }
        if (k === 'length') return text.length;
        if (k === 'substring') {
          return (a: number, b?: number) => {
            const e = Math.min(b ?? text.length, text.length) - 1;
            if (e > max) max = e;
            return text.substring(a, b);
          };
        }
      }
      const v = (text as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(text) : v;
    },
  });
  try {
    fromText(schema, proxy as unknown as string);
  } catch {
    /* expected: this run only measures how far the parser got */
  }
  return max;
}

interface TextToken { start: number; end: number; text: string }

/** A small tokenizer for text format, enough to find token starts and unclosed braces. */
function textTokens(text: string): { tokens: TextToken[]; unclosed?: number } {
  const tokens: TextToken[] = [];
  const open: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue; }
    const st = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      if (text[i] === c) i++;
    } else if (/[A-Za-z0-9_.+\-]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_.+\-]/.test(text[i]!)) i++;
    } else {
      i++;
      if (c === '{' || c === '<') open.push(st);
      else if (c === '}' || c === '>') open.pop();
    }
    tokens.push({ start: st, end: i, text: text.slice(st, i) });
  }
  return { tokens, unclosed: open.length ? open[open.length - 1] : undefined };
}

function lineCol(text: string, idx: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < idx && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: idx - lineStart + 1 };
}

/** line:column of a text-format parse error: the start of the token the parser stopped on. */
function locateTextError(schema: Parameters<typeof fromText>[0], text: string, message: string): { line: number; column: number; note?: string } {
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = bom ? text.slice(1) : text;
  const { tokens, unclosed } = textTokens(body);
  if (/end of input/.test(message) && unclosed !== undefined) {
    return { ...lineCol(body, unclosed), note: `the '${body[unclosed]}' opened here is never closed` };
  }
  const max = lastIndexRead(schema, body);
  let idx = body.length;
  let prev: TextToken | undefined;
  for (const t of tokens) {
    if (t.start > max) break;
    // Scanning an identifier or number reads one character past it: when that character
    // starts the next token, the parser stopped on the identifier, not on what follows.
    idx = t.start === max && prev && prev.end === max && /[A-Za-z0-9_]/.test(body[max - 1]!) ? prev.start : t.start;
    prev = t;
  }
  if (max < 0) idx = 0;
  return lineCol(body, idx);
}

export function parseText<T>(schema: Parameters<typeof fromText>[0], text: string, file?: string): T {
  try {
    return fromText(schema, text) as T;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const { note, ...pos } = locateTextError(schema, text, msg);
    throw new GraphFormatError({ file, ...pos }, `text format: ${msg}${note ? ` (${note})` : ''}`, { cause: e });
  }
}
