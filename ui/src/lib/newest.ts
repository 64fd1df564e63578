/**
 * For requests whose answers can arrive out of order: call the returned function as each
 * request starts; the setter it gives applies that request's answer only if no newer request
 * has started meanwhile, so a slow earlier answer never replaces a newer one.
 */
export function newest<T>(apply: (value: T) => void): () => (value: T) => void {
  let started = 0;
  return () => {
    const request = ++started;
    return (value) => {
      if (request === started) apply(value);
    };
  };
}
