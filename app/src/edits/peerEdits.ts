/** Peers' edits end in the app as in every peer: the expiry lives in p2p/ (the app's Game runs it over its edit list). */
export { PeerEditExpiry, type PeerEditExpiryOptions } from "../../../p2p/peer-edit-expiry.ts";
