/**
 * DHT keys say what kind of WebRTC stack holds them, by their top bit: set, a Node peer (node-datachannel,
 * whose ICE is libjuice); clear, a browser. Node peers (p2p/node/dht.ts) and browsers (p2p/gateway-client.ts)
 * make their keys to match here (keyOfKind), so that the lower-key-offers rule of p2p/signal.ts makes a
 * browser offer to a Node peer, and the browser's ICE agent controls the link. Isomorphic.
 *
 * The other way round, Chromium links to Node peers went silent one way a second after they opened
 * (bench:networks, behind NATs with TURN): Chromium, controlled, checks the pairs of the TURN ports it
 * allocates late with an ICE-CONTROLLED tie-breaker of 0; libjuice reads a 0 as a missing attribute and
 * answers 400; Chromium then destroys that pair, while libjuice, controlling, may already have nominated it:
 * its packets go where Chromium no longer reads, and only the mesh's silence check ends the link, 20 s later.
 * Controlling, Chromium sends its real tie-breaker (it settles role conflicts) and nominates itself.
 */
export type KeyKind = "node" | "browser";

export function keyKind(publicKey: Uint8Array): KeyKind {
  return ((publicKey[0] ?? 0) & 0x80) !== 0 ? "node" : "browser";
}

/**
 * A fresh secret key whose public key is of `kind` (half of all keys are: two tries on average). `random`
 * gives 32 random bytes; `publicKeyOf` derives the ed25519 public key.
 */
export function keyOfKind(
  kind: KeyKind,
  random: () => Uint8Array,
  publicKeyOf: (secretKey: Uint8Array) => Uint8Array,
): Uint8Array {
  for (;;) {
    const secretKey = random();
    if (keyKind(publicKeyOf(secretKey)) === kind) return secretKey;
  }
}
