/**
 * Browser-only: IndexedDB databases belong to one world. A store's database is named after the world
 * (core/deployment.ts `worldKeyOf`), so another world's is never opened, and opening one deletes the same
 * store's databases of other worlds (a fresh local chain redeploys to the same addresses: its old snapshots
 * and receipts must not come back).
 */
import createDebug from "debug";

const debug = createDebug("seedcraft:idb");

/** `<prefix>-<world>` (and `-<suffix>`, e.g. a wallet): the name of a store's database in one world. */
export function worldDbName(prefix: string, world: string, suffix?: string): string {
  return suffix === undefined ? `${prefix}-${world}` : `${prefix}-${world}-${suffix}`;
}

/**
 * Deletes every database named `<prefix>-…` that is not of `world`; resolves with their names once the
 * deletions were asked for (a deletion another open tab blocks completes when that tab lets go).
 */
export async function dropOtherWorlds(prefix: string, world: string): Promise<string[]> {
  if (typeof indexedDB.databases !== "function") return [];
  const mine = `${prefix}-${world}`;
  const dropped: string[] = [];
  for (const { name } of await indexedDB.databases()) {
    if (!name?.startsWith(`${prefix}-`) || name === mine || name.startsWith(`${mine}-`)) continue;
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => debug("deleted %s: another world's, not %s", name, world);
    request.onblocked = () => debug("deleting %s waits for another tab to close it", name);
    dropped.push(name);
  }
  return dropped;
}
