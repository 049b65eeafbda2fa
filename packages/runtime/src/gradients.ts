/**
 * TensorFlow.js gradients without the @tensorflow/tfjs union package (and its layers, data and
 * webgl dependencies: about 210 MB installed). tfjs-core registers every gradient when its
 * `dist/register_all_gradients.js` is imported, but that ESM build imports relative paths without
 * file extensions, which Node's ESM loader refuses; its CommonJS bundle (what `@tensorflow/tfjs-core`
 * resolves to in Node) carries no gradients at all. A resolve hook scoped to tfjs-core's dist/ adds
 * the extensions. The gradients land in tfjs's global registry (shared by every copy of
 * tfjs-core in the process), so the CommonJS core the rest of tfpass uses sees them.
 */
import { register } from 'node:module';

const HOOK = `
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('.') && !specifier.endsWith('.js') && context.parentURL && context.parentURL.includes('/@tensorflow/tfjs-core/dist/')) {
    const file = new URL(specifier + '.js', context.parentURL);
    const url = existsSync(fileURLToPath(file)) ? file : new URL(specifier + '/index.js', context.parentURL);
    return { url: url.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
`;

let registered: Promise<void> | undefined;

/** Register tfjs-core's gradients once per thread (idempotent; resolves when they are in place). */
export function registerGradients(): Promise<void> {
  registered ??= (async () => {
    // Under a bundler or vitest the import below resolves without the hook.
    if (typeof register === 'function' && process.versions.node) register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  })();
  return registered;
}
