/**
 * A proxy of an object that times some of its methods (sync or async) and
 * forwards everything else untouched, so a store or a validator is measured
 * without a line of its code changing, and methods added to it later (by other
 * features) pass through. Methods are called on the target itself (private
 * state stays reachable).
 */
export type Observe = (seconds: number, error: unknown) => void;

export function timedProxy<T extends object>(target: T, observers: Partial<Record<keyof T & string, Observe>>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const observe = typeof property === 'string' ? (observers as Record<string, Observe | undefined>)[property] : undefined;
      if (!observe) return (value as (...args: unknown[]) => unknown).bind(object);
      return (...args: unknown[]) => {
        const started = process.hrtime.bigint();
        const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
        let result: unknown;
        try {
          result = (value as (...args: unknown[]) => unknown).apply(object, args);
        } catch (error) {
          observe(seconds(), error);
          throw error;
        }
        if (result instanceof Promise) {
          return result.then(
            (resolved: unknown) => {
              observe(seconds(), undefined);
              return resolved;
            },
            (error: unknown) => {
              observe(seconds(), error);
              throw error;
            },
          );
        }
        observe(seconds(), undefined);
        return result;
      };
    },
  });
}
