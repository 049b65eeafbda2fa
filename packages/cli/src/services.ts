import type { PipelineOptions } from '@tfpass/core';

type DependencyContainer = NonNullable<PipelineOptions['container']>;

/**
 * The few container operations runPipeline uses, so the CLI can hand services to passes
 * without depending on tsyringe itself.
 */
export class Services {
  private readonly map = new Map<symbol, unknown>();
  constructor(private readonly parent?: Services) {}
  createChildContainer(): Services {
    return new Services(this);
  }
  isRegistered(token: symbol, recursive = false): boolean {
    return this.map.has(token) || (recursive && !!this.parent?.isRegistered(token, true));
  }
  register(token: symbol, provider: { useValue: unknown }): this {
    this.map.set(token, provider.useValue);
    return this;
  }
  resolve<T>(token: symbol): T {
    if (this.map.has(token)) return this.map.get(token) as T;
    if (this.parent) return this.parent.resolve<T>(token);
    throw new Error(`no service registered for ${token.description}`);
  }
  asContainer(): DependencyContainer {
    return this as unknown as DependencyContainer;
  }
}
