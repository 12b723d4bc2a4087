/**
 * A proxy of an object that times some of its methods (sync or async) and
 * forwards everything else untouched, so a store or a validator is measured
 * without a line of its code changing, and methods added to it later (by other
 * features) pass through. Methods are called on the target itself (private
 * state stays reachable).
 *
 * The function handed out for a method is made once per method (and again only
 * if the target's method itself changes): the store is reached through this
 * proxy several times a request, and a new bound function each time was a
 * measurable part of a read (issue 17's profiles).
 */
export type Observe = (seconds: number, error: unknown) => void;

type Method = (...args: unknown[]) => unknown;

/** Seconds since `started` (performance.now(): a double, where hrtime.bigint() allocated two BigInts a call). */
const secondsSince = (started: number) => (performance.now() - started) / 1000;

function timed(object: object, method: Method, observe: Observe): Method {
  return (...args: unknown[]) => {
    const started = performance.now();
    let result: unknown;
    try {
      result = method.apply(object, args);
    } catch (error) {
      observe(secondsSince(started), error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (resolved: unknown) => {
          observe(secondsSince(started), undefined);
          return resolved;
        },
        (error: unknown) => {
          observe(secondsSince(started), error);
          throw error;
        },
      );
    }
    observe(secondsSince(started), undefined);
    return result;
  };
}

export function timedProxy<T extends object>(target: T, observers: Partial<Record<keyof T & string, Observe>>): T {
  // property → the target's function it was made for, and the function handed out
  const handedOut = new Map<PropertyKey, { method: Method; forwarded: Method }>();
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const known = handedOut.get(property);
      if (known && known.method === value) return known.forwarded;
      const observe = typeof property === 'string' ? (observers as Record<string, Observe | undefined>)[property] : undefined;
      const method = value as Method;
      const forwarded = observe ? timed(object, method, observe) : method.bind(object);
      handedOut.set(property, { method, forwarded });
      return forwarded;
    },
  });
}
