// Persistent rooms (XEP-0045 §10.1 "persistent room"): each one's configuration,
// affiliations and subject in a file of its own, spool/<service>/rooms/<room>.xml,
// written atomically (temp file, fsync, rename) with mode 0600 like the user files.
// Occupants and history are not stored: they belong to the running server.
//
// The file holds the configuration as a submitted muc#roomconfig form, so it reads
// like what an owner sends and goes through the same validation when loaded:
//   <room xmlns='urn:xmpp:rohrpost:muc:0' jid='name@conference.host'>
//     <x xmlns='jabber:x:data' type='submit'>...</x>
//     <affiliations><item jid='alice@host' affiliation='owner'/></affiliations>
//     <subject from='name@conference.host/Alice'>text</subject>
//   </room>
// FIXME: the file handling belongs behind a storage interface (a RoomStore in
// storage/, so SQL backends can hold rooms too); until then it reuses the spool's
// atomic-file and file-name helpers.
import { join } from 'node:path';
import { parse } from 'ltx';
import { x, type Element } from '../../xml/element.js';
import { errorCode, nodeFs, removeFile, writeFileAtomic, type SpoolFs } from '../../storage/spool/atomic-file.js';
import { decodeName, encodeName } from '../../storage/spool/file-name.js';
import { applyConfigForm, configForm, defaultRoomConfig, type RoomConfig } from './forms.js';
import { isAffiliation, type Affiliation } from './roles.js';

const NS_ROOM_FILE = 'urn:xmpp:rohrpost:muc:0';
const ROOM_FILE_SUFFIX = '.xml';

export interface StoredRoom {
  config: RoomConfig;
  affiliations: Array<[string, Affiliation]>;
  subject: { text: string; from: string } | null;
}

/** Where a service keeps its persistent rooms. */
export interface RoomStore {
  load(name: string): Promise<StoredRoom | null>;
  save(name: string, room: StoredRoom): Promise<void>;
  remove(name: string): Promise<void>;
  /** The names of every stored room. */
  list(): Promise<string[]>;
}

export function serializeRoom(address: string, room: StoredRoom): string {
  const form = configForm(room.config, '');
  form.attrs.type = 'submit';
  // A submitted form carries values only (XEP-0004 §3.2).
  form.children = form.getChildren('field').map((f) => x('field', { var: f.attrs.var }, ...f.getChildren('value').map((v) => x('value', null, v.getText()))));
  const doc = x('room', { xmlns: NS_ROOM_FILE, jid: address },
    form,
    x('affiliations', null, ...room.affiliations.map(([jid, affiliation]) => x('item', { jid, affiliation }))),
    room.subject ? x('subject', { from: room.subject.from }, room.subject.text) : null);
  return `<?xml version='1.0' encoding='UTF-8'?>\n${doc.toString()}\n`;
}

/** Reads a room file; throws on a file that is not one. */
export function parseRoom(text: string): StoredRoom {
  const root = parse(text) as Element;
  if (root.name !== 'room' || root.attrs.xmlns !== NS_ROOM_FILE) throw new Error('not a room file');
  const form = root.getChild('x', 'jabber:x:data');
  // No limit here: a stored maxusers above a since-lowered muc.max_users is clamped by the service.
  const config = form ? applyConfigForm(defaultRoomConfig(0), form, 0) : defaultRoomConfig(0);
  const affiliations: Array<[string, Affiliation]> = [];
  for (const item of root.getChild('affiliations')?.getChildren('item') ?? []) {
    const a = item.attrs.affiliation;
    if (item.attrs.jid && isAffiliation(a) && a !== 'none') affiliations.push([item.attrs.jid, a]);
  }
  const s = root.getChild('subject');
  const subject = s ? { text: s.getText(), from: s.attrs.from ?? '' } : null;
  return { config, affiliations, subject };
}

/** Room files in the spool. Writes to one room are serialised. */
export class FileRoomStore implements RoomStore {
  private readonly dir: string;
  private readonly queues = new Map<string, Promise<void>>();

  constructor(spool: string, private readonly service: string, private readonly fs: SpoolFs = nodeFs) {
    this.dir = join(spool, encodeName(service), 'rooms');
  }

  private file(name: string): string {
    return join(this.dir, encodeName(name) + ROOM_FILE_SUFFIX);
  }

  async load(name: string): Promise<StoredRoom | null> {
    await this.queues.get(name);
    let text: string;
    try {
      text = await this.fs.readFile(this.file(name), 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return null;
      throw err;
    }
    return parseRoom(text);
  }

  save(name: string, room: StoredRoom): Promise<void> {
    const text = serializeRoom(`${name}@${this.service}`, room);
    return this.enqueue(name, () => writeFileAtomic(this.fs, this.file(name), text));
  }

  remove(name: string): Promise<void> {
    return this.enqueue(name, async () => { await removeFile(this.fs, this.file(name)); });
  }

  async list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await this.fs.readdir(this.dir);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw err;
    }
    return entries.filter((e) => e.endsWith(ROOM_FILE_SUFFIX))
      .map((e) => decodeName(e.slice(0, -ROOM_FILE_SUFFIX.length)))
      .filter((n): n is string => n !== null);
  }

  private enqueue(name: string, op: () => Promise<void>): Promise<void> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(op);
    this.queues.set(name, next);
    const clear = () => { if (this.queues.get(name) === next) this.queues.delete(name); };
    next.then(clear, clear);
    return next;
  }
}
