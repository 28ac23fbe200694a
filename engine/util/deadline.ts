/**
 * Waits for `work` until `deadline` (epoch ms): true if it settled in time, false if the
 * deadline came first. A rejection is passed on. The work is not cancelled, only no longer
 * waited for — the caller has somewhere more important to be (a node's grace period).
 */
export async function untilDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
