/** How the HUD writes sizes and names: one spelling for bytes, and a name that tells two players apart. */

/** A byte count in the units people read: B, KB, MB (1024 each). Blocks are spelled out, never "b". */
export function bytes(count: number | bigint): string {
  const n = Number(count);
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

/**
 * The name to show for a peer: the name it gave, with the start of its wallet unless the name holds it
 * already ("player-12ab" does), so two seeders that both call themselves "seeder" read apart.
 */
export function displayName(name: string, wallet: string): string {
  const tag = wallet.slice(2, 6).toLowerCase();
  if (tag.length < 4 || name.toLowerCase().includes(tag)) return name || `0x${tag}…`;
  return name ? `${name} 0x${tag}…` : `0x${tag}…`;
}
