/**
 * Run `work` on demand, never two at once: a call while it runs asks for one more run after
 * it (however many calls came), started `gap` ms later, so a burst of changes is read once
 * or twice and answers never arrive out of order.
 */
export function coalesce(work: () => Promise<void>, gap = 250): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  const run = async () => {
    try {
      do {
        again = false;
        await work();
        if (again) await new Promise((r) => setTimeout(r, gap));
      } while (again);
    } finally {
      running = null;
    }
  };
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = run();
    return running;
  };
}
