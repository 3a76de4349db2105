import { BLOCK_IDS, BLOCKS } from "../../../core/blocks.ts";

export type HotbarProps = {
  /** Block ids, one a slot (nine in the usual hotbar). */
  slots: readonly number[];
  /** Index of the slot in use. */
  selected: number;
  onSelect: (slot: number) => void;
  /** Whether a block may not be placed yet (a premium block not unlocked): its slot shows a lock and is not picked. */
  locked: (block: number) => boolean;
};

/** The usual nine: the building blocks, with gold (premium) last so the lock is in view. */
export const DEFAULT_HOTBAR: readonly number[] = [
  BLOCK_IDS.stone,
  BLOCK_IDS.dirt,
  BLOCK_IDS.grass,
  BLOCK_IDS.sand,
  BLOCK_IDS.wood,
  BLOCK_IDS.leaves,
  BLOCK_IDS.glass,
  BLOCK_IDS.brick,
  BLOCK_IDS.gold,
];

function hex(color: number): string {
  return `#${color.toString(16).padStart(6, "0")}`;
}

/** The blocks at hand: clicking a slot picks it; keys 1–9 and the wheel are heard by the first-person controls. */
export function Hotbar({ slots, selected, onSelect, locked }: HotbarProps) {
  return (
    <div className="hotbar" data-testid="hotbar" role="toolbar" aria-label="Hotbar">
      {slots.map((id, i) => {
        const block = BLOCKS[id];
        const name = block?.name ?? `block ${id}`;
        const isLocked = locked(id);
        const isSelected = i === selected;
        return (
          <button
            // biome-ignore lint/suspicious/noArrayIndexKey: a slot is its position (a block may sit in two)
            key={i}
            type="button"
            className="hotbar-slot"
            data-testid={`hotbar-slot-${i}`}
            data-block-id={id}
            data-selected={isSelected}
            data-locked={isLocked}
            aria-pressed={isSelected}
            aria-disabled={isLocked}
            title={isLocked ? `${name} (${i + 1}), locked: unlock it with energy first` : `${name} (${i + 1})`}
            onClick={() => {
              if (!isLocked) onSelect(i);
            }}
          >
            <span className="hotbar-colour" style={{ background: hex(block?.color ?? 0) }} />
            {isLocked && <LockIcon />}
            <span className="hotbar-key">{i + 1}</span>
          </button>
        );
      })}
    </div>
  );
}

/** A padlock drawn as SVG: an emoji lock is an empty box where the system has no colour-emoji font. */
function LockIcon() {
  return (
    <svg
      className="hotbar-lock"
      data-testid="hotbar-lock"
      viewBox="0 0 16 16"
      width="18"
      height="18"
      aria-hidden="true"
    >
      <path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="#f4f6f8" strokeWidth="1.8" />
      <rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="#f4f6f8" />
      <rect x="7.25" y="9.5" width="1.5" height="3" rx="0.75" fill="#2a3440" />
    </svg>
  );
}

/** A small cross at the screen centre: what the first-person controls aim at. */
export function Crosshair() {
  return <div className="crosshair" data-testid="crosshair" aria-hidden="true" />;
}
