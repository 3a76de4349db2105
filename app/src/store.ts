/** A tiny observable value for state that lives outside React (the world, the anchor queue) but shows in the HUD. */
import { useEffect, useState, useSyncExternalStore } from "react";

export type Store<T> = {
  get(): T;
  set(value: T): void;
  subscribe(listener: () => void): () => void;
};

export function createStore<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const listener of listeners) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<T>(store: Store<T>): T {
  return useSyncExternalStore(store.subscribe, store.get);
}

/**
 * Like useStore, but re-renders at most every `ms`: for lists that change with every peer's op, whose repaint
 * would otherwise compete with the world's frames.
 */
export function useStoreThrottled<T>(store: Store<T>, ms: number): T {
  const [value, setValue] = useState(store.get);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    const flush = () => {
      timer = undefined;
      last = performance.now();
      setValue(store.get());
    };
    const unsubscribe = store.subscribe(() => {
      timer ??= setTimeout(flush, Math.max(0, last + ms - performance.now()));
    });
    flush();
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, [store, ms]);
  return value;
}
