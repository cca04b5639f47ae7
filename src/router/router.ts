// The stanza router: classifies each stanza by kind and target, fires the named
// events modules hook (Prosody's model: 'message/bare', 'iq-get/host/urn:xmpp:ping:ping'),
// and applies RFC 6120/6121 default delivery when no handler took the stanza.
import type { Logger } from 'pino';
import type { Element } from '../xml/element.js';
import { tryParseJid, type Jid } from '../jid/index.js';
import { StanzaError } from '../errors.js';
import type { AccountStore } from '../storage/types.js';
import { EventBus } from './events.js';
import type { Session } from './session.js';
import { SessionRegistry } from './sessions.js';
import type { AccountEvent } from './accounts.js';
import { ClientExtensions } from './client-extensions.js';
import { ServiceRegistry } from './services.js';
import { errorReply, iqPayload, iqResult, mayReplyWithError } from './stanza.js';

export type Target = 'host' | 'self' | 'bare' | 'full' | 'remote' | 'component';

/** Takes every stanza addressed to a component's domain (a MUC service, say). */
export type ComponentHandler = (ev: StanzaEvent) => void | boolean | Promise<void | boolean>;

/** Carries stanzas to other servers (the s2s layer); the router knows it only by this. */
export interface RemoteRoute {
  /** Sends a stanza whose 'to' is on another domain; failures come back as bounces. */
  send(stanza: Element, from: Jid, to: Jid): void;
}

export interface StanzaEvent {
  stanza: Element;
  kind: 'message' | 'presence' | 'iq';
  /** The stamped sender. */
  from: Jid;
  /** The addressee; for a stanza without 'to' from a client, the sender's bare JID. */
  to: Jid;
  target: Target;
  /** The local client session that sent it; null for server-generated or remote stanzas. */
  origin: Session | null;
  router: Router;
}

export class Router {
  readonly events = new EventBus<StanzaEvent>();
  /** Session lifecycle: 'session/bound' and 'session/closed' (after the session left the registry). */
  readonly lifecycle = new EventBus<Session>();
  readonly sessions = new SessionRegistry();
  /** Account lifecycle: 'created', 'deleted'. */
  readonly accountEvents = new EventBus<AccountEvent>();
  /** Stream features and pre-authentication iqs that modules add to client streams. */
  readonly client = new ClientExtensions();
  /** Services modules offer one another (and the admin socket) by name. */
  readonly services = new ServiceRegistry();
  /** Run when the server stops, before the client streams are closed. */
  private readonly shutdownHooks = new Set<() => void | Promise<void>>();
  /** In-process components by domain (conference.<host>, ...). */
  private readonly components = new Map<string, ComponentHandler>();
  /** Federation; null when this server talks to no other (s2s.enabled: false). */
  private remote: RemoteRoute | null = null;

  constructor(
    private readonly hosts: ReadonlySet<string>,
    private readonly accounts: AccountStore,
    readonly log: Logger,
  ) {}

  isLocal(domain: string): boolean {
    return this.hosts.has(domain);
  }

  /** Serves a domain in this process; returns the undo. */
  addComponent(domain: string, handler: ComponentHandler): () => void {
    if (this.hosts.has(domain) || this.components.has(domain)) throw new Error(`${domain} is already served`);
    this.components.set(domain, handler);
    return () => {
      if (this.components.get(domain) === handler) this.components.delete(domain);
    };
  }

  onShutdown(hook: () => void | Promise<void>): () => void {
    this.shutdownHooks.add(hook);
    return () => this.shutdownHooks.delete(hook);
  }

  /** Runs the shutdown hooks; one that fails is logged and does not stop the others. */
  async shutdown(): Promise<void> {
    for (const hook of this.shutdownHooks) {
      try {
        await hook();
      } catch (err) {
        this.log.error({ err }, 'shutdown hook failed');
      }
    }
  }

  /** Installs the s2s layer; returns the undo. */
  setRemoteRoute(remote: RemoteRoute): () => void {
    this.remote = remote;
    return () => {
      if (this.remote === remote) this.remote = null;
    };
  }

  /** A domain this process serves: a host or a component. */
  servesDomain(domain: string): boolean {
    return this.hosts.has(domain) || this.components.has(domain);
  }

  isComponent(domain: string): boolean {
    return this.components.has(domain);
  }

  /**
   * Routes a stanza whose 'from' is already stamped. Returns a promise only when a
   * handler or a store lookup went asynchronous, so callers can keep order cheaply.
   */
  route(stanza: Element, origin: Session | null): void | Promise<void> {
    const from = tryParseJid(stanza.attrs.from ?? '');
    if (!from) return this.log.warn({ stanza: stanza.toString() }, 'dropping stanza without a valid from');
    const kind = stanza.name as StanzaEvent['kind'];
    let to: Jid | null;
    let target: Target;
    if (stanza.attrs.to === undefined) {
      to = from.bare;
      target = 'self';
    } else {
      to = tryParseJid(stanza.attrs.to);
      if (!to) {
        // The bad address cannot be the reply's 'from'; answer the sender directly.
        if (origin && mayReplyWithError(stanza)) {
          const reply = errorReply(stanza, new StanzaError('jid-malformed', 'the to address is not a valid JID'));
          delete reply.attrs.from;
          origin.send(reply);
        }
        return;
      }
      if (this.components.has(to.domain)) target = 'component';
      else if (!this.isLocal(to.domain)) target = 'remote';
      else if (!to.local) target = 'host';
      else if (!to.resource) target = kind === 'iq' && to.equals(from.bare) ? 'self' : 'bare';
      else target = 'full';
    }
    const ev: StanzaEvent = { stanza, kind, from, to, target, origin, router: this };
    // Availability is bookkept before any module sees the presence, so handlers
    // (broadcast, offline delivery) see the session as it now is.
    if (kind === 'presence' && target === 'self') this.updateOwnPresence(ev);
    if (target === 'component') return this.settle(ev, this.toComponent(ev));
    return this.settle(ev, kind === 'iq' ? this.dispatchIq(ev) : this.dispatch(ev));
  }

  /** Delivers a stanza to one bound session; false if there is none. */
  deliverToFull(to: Jid, stanza: Element): boolean {
    const s = this.sessions.get(to.bareString(), to.resource);
    if (!s) return false;
    s.send(stanza);
    return true;
  }

  /** Sends the error reply for a stanza, unless it is itself an error or result. */
  bounce(stanza: Element, err: StanzaError, origin: Session | null = null): void | Promise<void> {
    if (!mayReplyWithError(stanza) || !stanza.attrs.from) return;
    return this.reply(stanza, errorReply(stanza, err), origin);
  }

  /**
   * Sends a reply. A request a client sent without 'to' was handled on behalf of its
   * account; as Prosody does, the reply goes straight back without a 'from'.
   */
  reply(request: Element, reply: Element, origin: Session | null): void | Promise<void> {
    if (request.attrs.to === undefined && origin) {
      delete reply.attrs.from;
      origin.send(reply);
      return;
    }
    return this.route(reply, null);
  }

  /** Whether an account exists; online users answer without touching storage. */
  userExists(jid: Jid): boolean | Promise<boolean> {
    if (this.sessions.isOnline(jid.bareString())) return true;
    return this.accounts.exists(jid.domain, jid.local);
  }

  private toComponent(ev: StanzaEvent): void | Promise<void> {
    try {
      const r = this.components.get(ev.to.domain)!(ev);
      if (r instanceof Promise) return r.then(() => undefined);
    } catch (err) {
      return this.handlerFailed(ev, err);
    }
  }

  private settle(ev: StanzaEvent, r: void | Promise<void>): void | Promise<void> {
    if (r instanceof Promise) return r.catch((err) => this.handlerFailed(ev, err));
  }

  private handlerFailed(ev: StanzaEvent, err: unknown): void | Promise<void> {
    if (err instanceof StanzaError) return this.bounce(ev.stanza, err, ev.origin);
    this.log.error({ err, stanza: ev.stanza.toString() }, 'stanza handler failed');
    return this.bounce(ev.stanza, new StanzaError('internal-server-error'), ev.origin);
  }

  private dispatch(ev: StanzaEvent): void | Promise<void> {
    try {
      const handled = this.events.fire(`${ev.kind}/${ev.target}`, ev);
      if (handled === true) return;
      if (handled instanceof Promise) return handled.then((h) => (h ? undefined : this.defaultRoute(ev)));
      return this.defaultRoute(ev);
    } catch (err) {
      return this.handlerFailed(ev, err);
    }
  }

  /** iq get/set go to the handler registered for the payload; results and errors are just delivered. */
  private dispatchIq(ev: StanzaEvent): void | Promise<void> {
    const type = ev.stanza.attrs.type;
    if (type !== 'get' && type !== 'set') return this.dispatch(ev);
    const payload = iqPayload(ev.stanza);
    if (!payload) return this.bounce(ev.stanza, new StanzaError('bad-request', 'an iq get or set needs exactly one payload'), ev.origin);
    const key = `${payload.attrs.xmlns ?? ''}:${payload.name}`;
    const names = ev.target === 'self'
      ? [`iq-${type}/self/${key}`, `iq-${type}/bare/${key}`]
      : [`iq-${type}/${ev.target}/${key}`];
    for (const name of names) {
      if (this.events.has(name)) {
        try {
          const r = this.events.fire(name, ev);
          if (r === true) return;
          if (r instanceof Promise) return r.then((h) => (h ? undefined : this.dispatch(ev)));
        } catch (err) {
          return this.handlerFailed(ev, err);
        }
      }
    }
    return this.dispatch(ev);
  }

  /** What happens when no module handled the stanza (RFC 6120 §10, RFC 6121 §8.5). */
  private defaultRoute(ev: StanzaEvent): void | Promise<void> {
    const { stanza, kind, target, to } = ev;
    switch (target) {
      case 'remote':
        if (this.remote) return this.remote.send(stanza, ev.from, to);
        // RFC 6120 §10.4.3: the server cannot (here: will not) reach the remote domain.
        if (kind === 'presence') return;
        return this.bounce(stanza, new StanzaError('remote-server-not-found', 'this server does not talk to other servers'), ev.origin);
      case 'host':
        if (kind === 'presence') return;
        return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
      case 'full':
        if (this.deliverToFull(to, stanza)) return;
        return this.fullUnavailable(ev);
      case 'self':
        if (kind === 'presence') return;
        if (kind === 'iq') return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
        return this.toBare(ev);
      case 'bare':
        if (kind === 'iq') return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
        if (kind === 'presence') return;
        return this.toBare(ev);
    }
  }

  /** RFC 6121 §8.5.3.2.1: no such resource. */
  private fullUnavailable(ev: StanzaEvent): void | Promise<void> {
    const type = ev.stanza.attrs.type ?? 'normal';
    if (ev.kind === 'message' && (type === 'normal' || type === 'chat')) return this.toBare(ev);
    if (ev.kind === 'iq' || (ev.kind === 'message' && type === 'groupchat')) {
      return this.bounce(ev.stanza, new StanzaError('service-unavailable'), ev.origin);
    }
  }

  /** RFC 6121 §8.5.2: a message to a local bare JID. */
  private toBare(ev: StanzaEvent): void | Promise<void> {
    const exists = this.userExists(ev.to);
    if (exists instanceof Promise) return exists.then((e) => this.toExistingBare(ev, e));
    return this.toExistingBare(ev, exists);
  }

  private toExistingBare(ev: StanzaEvent, exists: boolean): void | Promise<void> {
    const { stanza, to } = ev;
    const type = stanza.attrs.type ?? 'normal';
    if (!exists) {
      if (type === 'error' || type === 'headline') return;
      return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
    }
    if (type === 'groupchat') return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
    const bare = to.bareString();
    const targets = type === 'headline' || type === 'chat'
      ? this.sessions.resources(bare).filter((s) => s.available && s.priority >= 0)
      : this.sessions.highestPriority(bare);
    if (targets.length > 0) {
      for (const s of targets) s.send(stanza);
      return;
    }
    if (type === 'error' || type === 'headline') return;
    // Nobody available: offline storage hooks 'message/offline'; without it, tell the sender.
    const handled = this.events.fire('message/offline', ev);
    if (handled === true) return;
    if (handled instanceof Promise) {
      return handled.then((h) => (h ? undefined : this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin)));
    }
    return this.bounce(stanza, new StanzaError('service-unavailable'), ev.origin);
  }

  /** RFC 6121 §4.2/§4.5 bookkeeping the router needs to pick resources for bare-JID messages. */
  private updateOwnPresence(ev: StanzaEvent): void {
    const s = ev.origin;
    if (!s) return;
    const type = ev.stanza.attrs.type;
    if (type === undefined) {
      const p = Number.parseInt(ev.stanza.getChildText('priority') ?? '0', 10);
      s.available = true;
      s.priority = Number.isFinite(p) ? Math.max(-128, Math.min(127, p)) : 0;
      s.presence = ev.stanza;
    } else if (type === 'unavailable') {
      s.available = false;
      s.presence = null;
    }
  }
}

export { iqResult };
