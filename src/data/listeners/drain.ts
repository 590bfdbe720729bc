/**
 * The drain every listener does on close: `sweep` runs now and every 100 ms (closing connections as they turn idle)
 * until `done` settles or `deadlineMs` passes; at the deadline `force` closes what is left, and `done` is awaited.
 * Resolves true when the deadline forced it.
 */
export async function drainUntil(
  done: Promise<unknown>,
  deadlineMs: number,
  sweep: () => void,
  force: () => void,
): Promise<boolean> {
  sweep();
  const sweeper = setInterval(sweep, 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), deadlineMs);
    timer.unref();
  });
  const outcome = await Promise.race([done.then(() => 'done' as const), deadline]);
  clearInterval(sweeper);
  clearTimeout(timer);
  if (outcome === 'done') return false;
  force();
  await done;
  return true;
}
