/**
 * The burner key of the local dev account. Keys live in localStorage, one per slot; each open tab holds one
 * slot with a Web Lock for as long as it lives, so every tab (and every browser profile) plays as its own
 * account, and a reloaded tab gets its own account back.
 */
import type { Hex } from "viem";
import { generatePrivateKey } from "viem/accounts";

const KEY_PREFIX = "seedcraft:dev-account:key:";
/** sessionStorage: the slot this tab used last, so a reload gets the same account. */
const TAB_SLOT = "seedcraft:dev-account:slot";
/** sessionStorage fallback where Web Locks are missing: a key for this tab only. */
const TAB_KEY = "seedcraft:dev-account:tab-key";
const MAX_SLOTS = 256;
/** A reloaded tab may briefly find its old slot still held by the page it replaces. */
const PREFERRED_SLOT_WAIT_MS = 300;

function isPrivateKey(value: string | null): value is Hex {
  return value !== null && /^0x[0-9a-fA-F]{64}$/.test(value);
}

/** The key stored under `name`, made and stored first if there is none. */
function storedKey(storage: Storage, name: string): Hex {
  const stored = storage.getItem(name);
  if (isPrivateKey(stored)) return stored;
  const key = generatePrivateKey();
  storage.setItem(name, key);
  return key;
}

/** Resolves true once lock `name` is held (it stays held until the tab goes away), false if it is taken. */
function holdLock(locks: LockManager, name: string, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const options: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    locks
      .request(name, options, (lock) => {
        if (!lock) {
          resolve(false);
          return;
        }
        resolve(true);
        return new Promise<void>(() => {});
      })
      .catch(() => resolve(false));
  });
}

let claimed: Promise<{ key: Hex; slot: number | undefined }> | undefined;

async function claim(): Promise<{ key: Hex; slot: number | undefined }> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return { key: storedKey(sessionStorage, TAB_KEY), slot: undefined };
  const preferred = Number.parseInt(sessionStorage.getItem(TAB_SLOT) ?? "", 10);
  const order = Number.isInteger(preferred) && preferred >= 0 && preferred < MAX_SLOTS ? [preferred] : [];
  for (let slot = 0; slot < MAX_SLOTS; slot++) if (slot !== preferred) order.push(slot);
  for (const slot of order) {
    if (!(await holdLock(locks, `seedcraft:dev-account:${slot}`, slot === preferred ? PREFERRED_SLOT_WAIT_MS : 0)))
      continue;
    sessionStorage.setItem(TAB_SLOT, String(slot));
    return { key: storedKey(localStorage, KEY_PREFIX + slot), slot };
  }
  throw new Error(`all ${MAX_SLOTS} dev account slots are in use by other tabs`);
}

/** This tab's dev key (claimed once per tab). */
export function claimDevKey(): Promise<{ key: Hex; slot: number | undefined }> {
  claimed ??= claim();
  return claimed;
}
