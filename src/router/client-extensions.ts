// What modules add to client streams: stream features (e.g. in-band registration,
// legacy auth) and iq handlers that work before authentication (XEP-0077). The c2s
// policy consults this registry; modules never see the stream itself.
import type { Element } from '../xml/element.js';

export type FeaturePhase = 'pre-auth' | 'post-auth';

export interface StreamContext {
  host: string;
  secure: boolean;
  /** False for a pre-1.0 stream (no features are sent there, but pre-auth iqs still work). */
  version: boolean;
}

export interface PreAuthRequest extends StreamContext {
  stanza: Element;
  payload: Element;
  ip: string;
}

/** Returns the payload of the result (null: empty result); throws StanzaError for an error reply. */
export type PreAuthHandler = (req: PreAuthRequest) => Element | null | Promise<Element | null>;

export class ClientExtensions {
  private readonly features: Array<{ phase: FeaturePhase; make: (ctx: StreamContext) => Element | null }> = [];
  private readonly preAuth = new Map<string, PreAuthHandler>();

  addFeature(phase: FeaturePhase, make: (ctx: StreamContext) => Element | null): () => void {
    const entry = { phase, make };
    this.features.push(entry);
    return () => {
      const i = this.features.indexOf(entry);
      if (i >= 0) this.features.splice(i, 1);
    };
  }

  featuresFor(phase: FeaturePhase, ctx: StreamContext): Element[] {
    const out: Element[] = [];
    for (const f of this.features) {
      if (f.phase !== phase) continue;
      const el = f.make(ctx);
      if (el) out.push(el);
    }
    return out;
  }

  addPreAuthIq(type: 'get' | 'set', ns: string, name: string, handler: PreAuthHandler): () => void {
    const key = `${type}/${ns}:${name}`;
    this.preAuth.set(key, handler);
    return () => {
      if (this.preAuth.get(key) === handler) this.preAuth.delete(key);
    };
  }

  preAuthHandler(type: string, ns: string, name: string): PreAuthHandler | undefined {
    return this.preAuth.get(`${type}/${ns}:${name}`);
  }
}
