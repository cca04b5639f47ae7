// What the benchmarks read about processes from /proc (Linux): resident memory
// and the limit of open files.
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM, ...), or null when unreadable. */
export function statusKiB(pid: number | 'self', field: 'VmRSS' | 'VmHWM' | 'VmSize'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The soft limit of open files of a process (from /proc/PID/limits); null when unknown, Infinity when unlimited. */
export function openFilesLimit(pid: number | 'self' = 'self'): number | null {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/** Open file descriptors of a process, or null when unreadable. */
export function openFileCount(pid: number | 'self'): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Linux reports process times in clock ticks of 1/USER_HZ s; USER_HZ is 100 on every common architecture. */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in ms, from /proc/PID/stat; null when unreadable. */
export function cpuMs(pid: number | 'self'): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** Busy CPU time of the whole machine, all CPUs, in ms (from /proc/stat; steal counts as busy); null when unreadable. */
export function machineBusyMs(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
    return (busy * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

export interface CpuReading {
  /** The server's CPU time in ms; null when its PID is unknown. */
  serverMs: number | null;
  /** This process's CPU time in ms. */
  clientMs: number;
  /**
   * CPU used by other processes on the machine, as a share of all CPUs (0..1); null when
   * unknown. Other work slows a run down: compare only runs where this is near 0.
   */
  otherLoad: number | null;
}

/** Starts measuring CPU time of the server, this process and everything else; stop() reads it. */
export function startCpuMeter(serverPid: number | undefined): { stop(elapsedMs: number): CpuReading } {
  const server0 = serverPid === undefined ? null : cpuMs(serverPid);
  const client0 = process.cpuUsage();
  const busy0 = machineBusyMs();
  return {
    stop(elapsedMs) {
      const client = process.cpuUsage(client0);
      const clientMs = (client.user + client.system) / 1000;
      const server1 = serverPid === undefined ? null : cpuMs(serverPid);
      const busy1 = machineBusyMs();
      const serverMs = server0 === null || server1 === null ? null : server1 - server0;
      const otherLoad = serverMs === null || busy0 === null || busy1 === null || elapsedMs <= 0 ? null
        : Math.max(0, busy1 - busy0 - serverMs - clientMs) / (elapsedMs * availableParallelism());
      return { serverMs, clientMs, otherLoad };
    },
  };
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
