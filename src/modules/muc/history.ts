// XEP-0045 §7.2.15 discussion history: the room keeps its last groupchat messages and
// sends them, stamped with XEP-0203 delays, to a new occupant as far as the
// <history/> element it sent in its join presence allows.
import { x, type Element } from '../../xml/element.js';
import { delay } from '../xep0203-delay.js';

export interface HistoryEntry {
  /** The message as broadcast (from room/nick), without 'to'. */
  stanza: Element;
  stamp: Date;
}

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: Date;
}

export class RoomHistory {
  private readonly entries: HistoryEntry[] = [];
  constructor(private readonly limit: number) {}

  add(stanza: Element, stamp: Date): void {
    if (this.limit <= 0) return;
    this.entries.push({ stanza, stamp });
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  /**
   * The messages to replay, oldest first, each a fresh copy addressed to `to` with a
   * delay from the room. Every given limit applies (§7.2.15: "the room SHOULD
   * return the minimum"); maxchars counts the characters of the XML as sent.
   */
  replay(req: HistoryRequest, roomJid: string, to: string, now: Date, defaultStanzas: number): Element[] {
    const maxstanzas = req.maxstanzas ?? (req.maxchars === undefined && req.seconds === undefined && !req.since ? defaultStanzas : Infinity);
    const out: Element[] = [];
    let chars = 0;
    for (let i = this.entries.length - 1; i >= 0 && out.length < maxstanzas; i--) {
      const e = this.entries[i]!;
      if (req.seconds !== undefined && now.getTime() - e.stamp.getTime() > req.seconds * 1000) break;
      if (req.since && e.stamp.getTime() < req.since.getTime()) break;
      const copy = copyElement(e.stanza);
      copy.attrs.to = to;
      copy.append(delay(roomJid, e.stamp));
      chars += copy.toString().length;
      if (req.maxchars !== undefined && chars > req.maxchars) break;
      out.push(copy);
    }
    return out.reverse();
  }
}

/** Reads <history/> from a join; malformed numbers are ignored (the default applies). */
export function parseHistoryRequest(el: Element | undefined): HistoryRequest {
  const req: HistoryRequest = {};
  if (!el) return req;
  const num = (name: string) => {
    const v = el.attrs[name];
    return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
  };
  req.maxchars = num('maxchars');
  req.maxstanzas = num('maxstanzas');
  req.seconds = num('seconds');
  if (el.attrs.since) {
    const d = new Date(el.attrs.since);
    if (!Number.isNaN(d.getTime())) req.since = d;
  }
  return req;
}

/** A deep copy, so a replayed stanza can be addressed and stamped without touching the stored one. */
export function copyElement(el: Element): Element {
  const c = x(el.name, { ...el.attrs });
  for (const child of el.children) c.append(typeof child === 'string' ? child : copyElement(child));
  return c;
}
