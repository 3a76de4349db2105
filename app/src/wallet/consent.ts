/**
 * Whether the player asked, in this page, to join: a click on a wallet's connect button (the dev account's
 * included) or on Join. Until then nothing may ask the wallet for a transaction or a signature: a wallet that
 * reconnects by itself on load only lets a tab rejoin whose session key is still authorized.
 */
import { createStore } from "../store.ts";

export const joinAsked = createStore(false);
