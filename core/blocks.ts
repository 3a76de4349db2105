/** The block registry: every block id the world knows, and what the renderer and the rules need of it. */
export type BlockType = {
  id: number;
  name: string;
  /** Collides and hides the faces of its neighbours. */
  solid: boolean;
  /** Lets light and sight through (faces behind it are drawn). */
  transparent: boolean;
  /** Needs energy spent to unlock before a player may place it. */
  premium: boolean;
  /** sRGB colour for flat shading, 0xRRGGBB. */
  color: number;
};

export const AIR = 0;

export const BLOCKS: readonly BlockType[] = [
  { id: 0, name: "air", solid: false, transparent: true, premium: false, color: 0x000000 },
  { id: 1, name: "stone", solid: true, transparent: false, premium: false, color: 0x8a8a8a },
  { id: 2, name: "dirt", solid: true, transparent: false, premium: false, color: 0x8b5a2b },
  { id: 3, name: "grass", solid: true, transparent: false, premium: false, color: 0x5fa33a },
  { id: 4, name: "sand", solid: true, transparent: false, premium: false, color: 0xdccb8a },
  { id: 5, name: "water", solid: false, transparent: true, premium: false, color: 0x3a72c9 },
  { id: 6, name: "wood", solid: true, transparent: false, premium: false, color: 0x9c6b3c },
  { id: 7, name: "leaves", solid: true, transparent: true, premium: false, color: 0x3f8a2e },
  { id: 8, name: "glass", solid: true, transparent: true, premium: false, color: 0xc8e6f0 },
  { id: 9, name: "brick", solid: true, transparent: false, premium: false, color: 0xa8432f },
  { id: 10, name: "gold", solid: true, transparent: false, premium: true, color: 0xe8c23a },
];

export const BLOCK_IDS = {
  air: 0,
  stone: 1,
  dirt: 2,
  grass: 3,
  sand: 4,
  water: 5,
  wood: 6,
  leaves: 7,
  glass: 8,
  brick: 9,
  gold: 10,
} as const;

export function isKnownBlock(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < BLOCKS.length;
}

export function blockType(id: number): BlockType | undefined {
  return BLOCKS[id];
}
