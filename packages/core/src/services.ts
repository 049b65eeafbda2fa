// The services a host hands to passes (logger, executor, registry, …), keyed by the
// `Symbol.for('tfpass.<name>')` tokens. A map with a parent chain is all runPipeline needs: no
// decorators, no `reflect-metadata` patching the global `Reflect` on import.

/**
 * What runPipeline asks of a container. A tsyringe `DependencyContainer` fits this shape too, so a
 * host that already uses one can hand it over unchanged.
 */
export interface ServiceProvider {
  createChildContainer(): ServiceProvider;
  isRegistered(token: symbol, recursive?: boolean): boolean;
  register(token: symbol, provider: { useValue: unknown }): unknown;
  resolve<T>(token: symbol): T;
}

/** Services by token, falling back to the parent's. */
export class ServiceContainer implements ServiceProvider {
  private readonly map = new Map<symbol, unknown>();
  constructor(private readonly parent?: ServiceProvider) {}

  createChildContainer(): ServiceContainer {
    return new ServiceContainer(this);
  }
  isRegistered(token: symbol, recursive = false): boolean {
    return this.map.has(token) || (recursive && !!this.parent?.isRegistered(token, true));
  }
  register(token: symbol, provider: { useValue: unknown }): this {
    this.map.set(token, provider.useValue);
    return this;
  }
  /** Shorthand for `register(token, { useValue })`. */
  set(token: symbol, value: unknown): this {
    this.map.set(token, value);
    return this;
  }
  resolve<T>(token: symbol): T {
    if (this.map.has(token)) return this.map.get(token) as T;
    if (this.parent?.isRegistered(token, true)) return this.parent.resolve<T>(token);
    throw new Error(`no service registered for ${token.description ?? String(token)}`);
  }
}

/** The process's root container (empty unless a host registers process-wide services). */
export const rootServices = new ServiceContainer();
