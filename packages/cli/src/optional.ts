import { TfpassError, isTfpassError } from '@tfpass/core/errors';

/**
 * Import a package a command builds on and check it provides `names`. Missing package or
 * missing exports give one clear line naming the package (and the npm i to run).
 */
export async function needModule<T>(pkg: string, names: readonly string[], command: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch (e) {
    if (isTfpassError(e)) throw e;
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(pkg)) {
      throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${pkg}, which is not installed: npm i ${pkg}`, { cause: e });
    }
    throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${pkg}, which failed to load: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  const missing = names.filter((n) => mod[n] === undefined);
  if (missing.length) {
    throw new TfpassError('E_PLUGIN', `'tfpass ${command}' needs ${missing.join(', ')} from ${pkg}, which the installed ${pkg} does not provide yet`);
  }
  return mod as T;
}
