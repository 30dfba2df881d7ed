/** `fn` at most once; a no-op without `fn`. */
export function once(fn: (() => void) | undefined): () => void {
  let called = !fn;
  return () => {
    if (called) return;
    called = true;
    fn!();
  };
}
