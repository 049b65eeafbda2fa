// A registry holding every pass package's passes, loaded from sources, for tests that run
// whole transform_graph pipelines through core's transformGraph().
import { PassRegistry, registerPlugin } from '@tfpass/core';

const PACKAGES = ['@tfpass/pass-strip', '@tfpass/pass-fold-constants', '@tfpass/pass-fold-bn', '@tfpass/pass-instance-norm', '@tfpass/quantize'];

let all: Promise<PassRegistry> | undefined;
export function allPasses(): Promise<PassRegistry> {
  return (all ??= (async () => {
    const registry = new PassRegistry();
    for (const name of PACKAGES) await registerPlugin(await import(/* @vite-ignore */ name), registry, { packageName: name, packageVersion: '0.0.0' });
    return registry;
  })());
}
