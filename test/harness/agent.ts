// A scriptable slixmpp client for end-to-end tests: one long-running Python
// process (test/harness/slix_agent.py) per user, driven with JSON lines on its
// stdin, reporting JSON lines on its stdout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT } from './server.js';

export interface AgentEvent { event: string; [k: string]: unknown }

export interface RosterItem { jid: string; subscription: string; ask: string | null; name?: string | null; groups?: string[] }

export const AGENT_SCRIPT = join(ROOT, 'test', 'harness', 'slix_agent.py');
const PYTHON = '/usr/bin/python3';
const STDERR_KEEP = 2000;

interface Waiter {
  pred: (e: AgentEvent) => boolean;
  resolve: (e: AgentEvent) => void;
}

export class Agent {
  readonly name: string;
  readonly events: AgentEvent[] = [];
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiters: Waiter[] = [];
  /** Events some waitFor already returned: later waitFors skip them. */
  private readonly consumed = new Set<AgentEvent>();
  private stderrTail = '';
  private nextTag = 1;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(name: string) {
    this.name = name;
    this.proc = spawn(PYTHON, [AGENT_SCRIPT], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_KEEP);
    });
    // Writing to a dead process must not crash the test run; the waits report it.
    this.proc.stdin.on('error', () => {});
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      let ev: AgentEvent;
      try { ev = JSON.parse(line) as AgentEvent; } catch { ev = { event: 'stdout', line }; }
      this.events.push(ev);
      for (const w of [...this.waiters]) {
        if (this.consumed.has(ev)) break;
        if (w.pred(ev)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          this.consumed.add(ev);
          w.resolve(ev);
        }
      }
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => {
      this.exitCode = code;
      resolve(code);
    }));
  }

  /** Spawns the Python agent; `name` only labels error messages. */
  static start(name = 'agent'): Agent {
    return new Agent(name);
  }

  get pid(): number | undefined { return this.proc.pid; }

  /** The last part of the agent's stderr (slixmpp's log and Python tracebacks). */
  get stderr(): string { return this.stderrTail; }

  send(cmd: Record<string, unknown>): void {
    if (this.exitCode !== undefined || this.proc.stdin.destroyed) throw new Error(`${this.name}: agent has exited`);
    this.proc.stdin.write(JSON.stringify(cmd) + '\n');
  }

  waitFor(pred: (e: AgentEvent) => boolean, what: string, timeoutMs = 15000): Promise<AgentEvent> {
    const found = this.events.find((e) => !this.consumed.has(e) && pred(e));
    if (found) {
      this.consumed.add(found);
      return Promise.resolve(found);
    }
    return new Promise<AgentEvent>((resolve, reject) => {
      const fail = (why: string) => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${why} waiting for ${what}\n${this.describe()}`));
      };
      const waiter: Waiter = {
        pred,
        resolve: (e) => { clearTimeout(timer); resolve(e); },
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        // Lines still in the pipe are read before 'exit' resolves on most runs; give them a moment.
        setTimeout(() => { if (this.waiters.includes(waiter)) fail(`agent exited (${code})`); }, 50);
      });
    });
  }

  /** Sends a command with a fresh tag and waits for the event carrying that tag (whatever its kind). */
  async call(cmd: Record<string, unknown>, timeoutMs = 30000): Promise<AgentEvent> {
    const tag = `t${this.nextTag++}`;
    const answer = this.waitFor((e) => e.tag === tag, `the answer to ${JSON.stringify(cmd)}`, timeoutMs);
    try {
      this.send({ ...cmd, tag });
    } catch (e) {
      answer.catch(() => {});
      throw e;
    }
    return answer;
  }

  async connect(o: { jid: string; password: string; port: number; host?: string; starttls?: boolean;
    cafile?: string; unencrypted_plain?: boolean; timeout?: number }): Promise<string> {
    const timeout = o.timeout ?? 20;
    const ev = await this.call({
      cmd: 'connect', host: '127.0.0.1', starttls: false, unencrypted_plain: true, cafile: null, ...o, timeout,
    }, (timeout + 10) * 1000);
    if (ev.event !== 'session_start') throw new Error(`${this.name}: connect as ${o.jid} failed: ${String(ev.error)}\n${this.describe()}`);
    return String(ev.jid);
  }

  async message(to: string, body: string, type = 'chat'): Promise<void> {
    this.expect(await this.call({ cmd: 'message', to, body, type }), 'sent');
  }

  async presence(o: { to?: string; type?: string; status?: string; priority?: number; show?: string } = {}): Promise<void> {
    this.expect(await this.call({ cmd: 'presence', ...o }), 'sent');
  }

  async groupchat(room: string, body: string): Promise<void> {
    this.expect(await this.call({ cmd: 'groupchat', room, body }), 'sent');
  }

  async raw(xml: string): Promise<void> {
    this.expect(await this.call({ cmd: 'raw', xml }), 'sent');
  }

  async ping(to: string, timeoutS = 10): Promise<{ ok: boolean; error?: string }> {
    const ev = this.expect(await this.call({ cmd: 'iq_ping', to, timeout: timeoutS }, (timeoutS + 10) * 1000), 'ping');
    return ev.ok === true ? { ok: true } : { ok: false, error: String(ev.error) };
  }

  async roster(): Promise<RosterItem[]> {
    const ev = this.expect(await this.call({ cmd: 'roster' }), 'roster');
    return ev.items as RosterItem[];
  }

  async join(room: string, nick: string, timeoutS = 20): Promise<number[]> {
    const ev = await this.call({ cmd: 'join', room, nick, timeout: timeoutS }, (timeoutS * 2 + 10) * 1000);
    if (ev.event !== 'joined') throw new Error(`${this.name}: joining ${room} as ${nick} failed: ${String(ev.error)}\n${this.describe()}`);
    if (ev.unlock_error) throw new Error(`${this.name}: unlocking ${room} failed: ${String(ev.unlock_error)}`);
    return ev.codes as number[];
  }

  async disconnect(o: { send_unavailable?: boolean } = {}): Promise<void> {
    this.expect(await this.call({ cmd: 'disconnect', ...o }), 'disconnected');
  }

  /** Quits (disconnecting first) and waits for the process; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    try {
      this.send({ cmd: 'quit' });
      this.proc.stdin.end();
    } catch { /* already gone */ }
    const timer = setTimeout(() => { if (this.exitCode === undefined) this.proc.kill('SIGKILL'); }, 5000);
    await this.exited;
    clearTimeout(timer);
  }

  private expect(ev: AgentEvent, event: string): AgentEvent {
    if (ev.event !== event) throw new Error(`${this.name}: expected '${event}', got ${JSON.stringify(ev)}\n${this.describe()}`);
    return ev;
  }

  private describe(): string {
    const last = this.events.slice(-15).map((e) => '  ' + JSON.stringify(e)).join('\n');
    return `last events:\n${last || '  (none)'}\nstderr (tail):\n${this.stderrTail || '  (empty)'}`;
  }
}
