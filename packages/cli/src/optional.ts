import { TfpassError, isTfpassError } from '@tfpass/core/errors';

/**
 * The optional packages the CLI calls, typed by the packages themselves (type-only: nothing
 * loads until a command imports it), so a renamed export or option fails the CLI's build.
 */
interface Optional {
  '@tfpass/runtime': typeof import('@tfpass/runtime');
  '@tfpass/quantize': typeof import('@tfpass/quantize');
  '@tfpass/checkpoint': typeof import('@tfpass/checkpoint');
  '@tfpass/tfjs-format': typeof import('@tfpass/tfjs-format');
  '@tfpass/train': typeof import('@tfpass/train');
  '@tfpass/view': typeof import('@tfpass/view');
  '@tfpass/toco': typeof import('@tfpass/toco');
  '@tfpass/tflite': typeof import('@tfpass/tflite');
}

/**
 * Import a package a command builds on and check it provides `names`. Missing package or
 * missing exports give one clear line naming the package (and the npm i to run).
 */
export async function needModule<P extends keyof Optional, const K extends keyof Optional[P] & string>(pkg: P, names: readonly K[], command: string): Promise<Pick<Optional[P], K>>;
/** A package outside the typed list (its shape declared by the caller). */
export async function needModule<T>(pkg: string, names: readonly string[], command: string): Promise<T>;
export async function needModule(pkg: string, names: readonly string[], command: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch (e) {
    if (isTfpassError(e)) throw e;
    const code = (e as NodeJS.ErrnoException)?.code;
    // Only when the package itself is missing (not one it imports: that is a broken install).
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`'${pkg}'`)) {
      throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${pkg}, which is not installed: npm i ${pkg}`, { cause: e });
    }
    throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${pkg}, which failed to load: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  const missing = names.filter((n) => mod[n] === undefined);
  if (missing.length) {
    throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${missing.join(', ')} from ${pkg}, which the installed ${pkg} does not provide yet`);
  }
  return mod;
}
