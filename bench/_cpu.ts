/**
 * CPU time spent by the whole machine, from `/proc/stat`: what a measured run cost in
 * processor time, every process and the kernel included. On a machine with few cores a
 * pipeline that needs more processor time per byte than its reference cannot reach the
 * reference's rate, however well it overlaps; these numbers show that bound.
 *
 * @module
 */

/** Clock ticks per second of `/proc/stat` (USER_HZ, 100 on Linux). */
const TICKS_PER_SEC = 100;

/**
 * The machine's busy time so far: user, nice, system, irq and softirq of every core
 * (idle, iowait and steal, time the VM's host took, are left out).
 *
 * @returns seconds of processor time
 */
export function cpuBusySeconds(): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
  const [user, nice, system, _idle, _iowait, irq, softirq] = line.trim().split(/\s+/).slice(1)
    .map(Number);
  return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SEC;
}

/**
 * Processor time a process spent so far, all its threads (user and system).
 *
 * @param pid the process
 * @returns seconds
 */
export function processCpuSeconds(pid: number): number {
  return ticksOf(Deno.readTextFileSync(`/proc/${pid}/stat`));
}

function ticksOf(stat: string): number {
  // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/**
 * Processor time each thread of a process spent so far, summed by thread name.
 *
 * @param pid the process
 * @returns seconds per thread name (the main thread's: `main`)
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = t.name === String(pid)
        ? "main"
        : Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
      // The thread's own (`/proc/<tid>/stat` would be the whole process's).
      const s = ticksOf(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`));
      out.set(name, (out.get(name) ?? 0) + s);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
