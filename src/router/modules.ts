// The module loader: loads definitions in order and can unload each one,
// undoing everything it registered.
import { createModuleApi, type ModuleContext, type ModuleDefinition } from './module-api.js';

interface Loaded { def: ModuleDefinition; undo: Array<() => void> }

export class ModuleHost {
  private readonly loaded = new Map<string, Loaded>();

  constructor(private readonly ctx: ModuleContext) {}

  async load(def: ModuleDefinition): Promise<void> {
    if (this.loaded.has(def.name)) throw new Error(`module ${def.name} is already loaded`);
    const undo: Array<() => void> = [];
    try {
      await def.load(createModuleApi(def, this.ctx, undo));
    } catch (err) {
      for (const u of undo.reverse()) u();
      throw err;
    }
    this.loaded.set(def.name, { def, undo });
  }

  unload(name: string): boolean {
    const m = this.loaded.get(name);
    if (!m) return false;
    for (const u of m.undo.reverse()) u();
    this.loaded.delete(name);
    return true;
  }

  names(): string[] {
    return [...this.loaded.keys()];
  }
}
