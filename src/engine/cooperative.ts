/**
 * Long loops of synchronous work (a Bundle's thousand entries to validate
 * and index, a page of results to serialise) give the event loop back now and
 * then, so one request never holds up every other — /healthz included — for
 * longer than a slice (issue 18: a 1,000-entry transaction held it 4 s).
 * `await slice()` inside the loop yields (setImmediate) once the current
 * stretch has run longer than `budgetMs`; otherwise it costs a clock read.
 */
export function cooperative(budgetMs = 10): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < budgetMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}
