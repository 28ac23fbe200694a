import type { AnyFactory, ComponentKind, ProbeFactory, SinkFactory, StageFactory } from './contracts.js';

type ByKind = { probe: ProbeFactory; stage: StageFactory; sink: SinkFactory };

/** Factories by kind and `type` name. Registering the same type twice is a programming error. */
export class Registry {
  private readonly factories: { [K in ComponentKind]: Map<string, ByKind[K]> } = {
    probe: new Map(),
    stage: new Map(),
    sink: new Map(),
  };

  register(...factories: AnyFactory[]): this {
    for (const f of factories) {
      const table = this.factories[f.kind] as Map<string, AnyFactory>;
      if (table.has(f.type)) throw new Error(`${f.kind} type "${f.type}" is registered twice`);
      table.set(f.type, f);
    }
    return this;
  }

  get<K extends ComponentKind>(kind: K, type: string): ByKind[K] | undefined {
    return this.factories[kind].get(type) as ByKind[K] | undefined;
  }

  types(kind: ComponentKind): string[] {
    return [...this.factories[kind].keys()].sort();
  }

  list<K extends ComponentKind>(kind: K): ByKind[K][] {
    return this.types(kind).map((t) => this.factories[kind].get(t) as ByKind[K]);
  }
}
