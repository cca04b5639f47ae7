// SASL negotiation on a client stream (RFC 6120 §6): <auth/>, <challenge/>,
// <response/>, <abort/>, <success/>, <failure/>. The mechanisms live in auth/;
// this file only speaks the XML of the exchange and applies throttling.
import { x, type Element } from '../xml/element.js';
import { SaslError, type SaslFailureCondition } from '../errors.js';
import { createMechanism, type SaslContext, type SaslMechanism } from '../auth/sasl.js';
import { NS_SASL } from '../stream/namespaces.js';

/** RFC 6120 §6.4.5: allow a reasonable number of retries (at least 2, at most 5), then close. */
export const MAX_ATTEMPTS_PER_STREAM = 5;

export type SaslOutcome =
  | { kind: 'continue' }
  | { kind: 'success'; username: string; mechanism: string }
  | { kind: 'failure'; condition: SaslFailureCondition; username: string | null };

export function failure(condition: SaslFailureCondition, text?: string): Element {
  return x('failure', { xmlns: NS_SASL }, x(condition), text ? x('text', { 'xml:lang': 'en' }, text) : null);
}

/** The exchange in progress on one stream. */
export class SaslExchange {
  private mechanism: SaslMechanism | null = null;
  /** The authentication identity the client named, once known (for per-account throttling). */
  username: string | null = null;

  constructor(private readonly ctx: SaslContext, private readonly send: (el: Element) => void) {}

  get active(): boolean {
    return this.mechanism !== null;
  }

  async handle(el: Element): Promise<SaslOutcome> {
    switch (el.name) {
      case 'auth': {
        const mech = createMechanism(el.attrs.mechanism ?? '', this.ctx);
        if (!mech) return this.fail(new SaslError('invalid-mechanism'));
        this.mechanism = mech;
        const text = el.getText();
        // RFC 6120 §6.4.2: no initial response -> an empty challenge; '=' is an empty response.
        if (text === '') {
          this.send(x('challenge', { xmlns: NS_SASL }));
          return { kind: 'continue' };
        }
        return this.step(text);
      }
      case 'response':
        if (!this.mechanism) return this.fail(new SaslError('malformed-request', 'no exchange in progress'));
        return this.step(el.getText());
      case 'abort':
        this.mechanism = null;
        this.send(failure('aborted'));
        return { kind: 'failure', condition: 'aborted', username: null };
      default:
        return this.fail(new SaslError('malformed-request', `unexpected <${el.name}/>`));
    }
  }

  private async step(text: string): Promise<SaslOutcome> {
    const mech = this.mechanism!;
    const input = decodeBase64(text);
    if (!input) return this.fail(new SaslError('incorrect-encoding'));
    try {
      const r = await mech.step(input);
      if ('challenge' in r) {
        this.send(x('challenge', { xmlns: NS_SASL }, r.challenge.toString('base64')));
        return { kind: 'continue' };
      }
      this.mechanism = null;
      this.username = r.success.username;
      this.send(x('success', { xmlns: NS_SASL }, r.success.additional ? r.success.additional.toString('base64') : null));
      return { kind: 'success', username: r.success.username, mechanism: mech.name };
    } catch (err) {
      if (err instanceof SaslError) return this.fail(err);
      throw err;
    }
  }

  private fail(err: SaslError): SaslOutcome {
    this.mechanism = null;
    this.send(failure(err.condition, err.condition === 'not-authorized' ? undefined : err.text));
    return { kind: 'failure', condition: err.condition, username: this.username };
  }
}

/** Strict base64 (RFC 6120 §6.4.2: '=' alone means an empty response). */
function decodeBase64(text: string): Buffer | null {
  const t = text.trim();
  if (t === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return null;
  return Buffer.from(t, 'base64');
}
