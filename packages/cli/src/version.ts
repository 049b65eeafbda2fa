import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function cliVersion(): string {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
}
