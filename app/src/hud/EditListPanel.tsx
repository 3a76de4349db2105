import { BLOCKS } from "../../../core/blocks.ts";
import { EDIT_STATE_LABELS, type EditEntry, type EditList, type EditState } from "../edits/editList.ts";
import { useStoreThrottled } from "../store.ts";

const SHOWN = 12;

function describe(entry: EditEntry): string {
  const name = BLOCKS[entry.block]?.name ?? `block ${entry.block}`;
  const what = entry.mode === "break" ? "break" : `place ${name}`;
  return entry.own ? what : `${entry.author ?? "a peer"}: ${what}`;
}

/** States that end with a reason worth reading. */
const EXPLAINED = new Set<EditState>(["failed", "bounced", "overwritten", "rolled-back"]);

/** The pill's colour: an edit that ended without being anchored here reads like a bounce. */
function pillOf(state: EditState): string {
  return state === "overwritten" || state === "rolled-back" ? "bounced" : state;
}

/** The newest edits first, ours and our peers', each with its chunk, anchored version and state. */
export function EditListPanel({ edits }: { edits: EditList }) {
  const entries = useStoreThrottled(edits.store, 250);
  const shown = entries.slice(-SHOWN).reverse();
  return (
    <section className="panel edits" aria-label="Edits">
      <h2>Edits</h2>
      {shown.length === 0 && <p className="muted">Left click breaks, right click places; 1–9 pick a block.</p>}
      <ol data-testid="edit-list">
        {shown.map((entry) => (
          <li
            key={entry.id}
            data-testid="edit-status"
            data-state={entry.state}
            data-chunk-id={entry.chunkId.toString()}
            data-version={entry.version?.toString()}
            data-apply-ms={entry.applyMs === undefined ? undefined : entry.applyMs.toFixed(1)}
            data-tx={entry.txHash}
            data-own={entry.own}
            data-position={entry.position.join(",")}
            data-reason={entry.reason}
            className={`edit edit-${entry.state}`}
          >
            <div className="edit-head">
              <span>{describe(entry)}</span>
              <span className={`pill pill-${pillOf(entry.state)}`}>{EDIT_STATE_LABELS[entry.state]}</span>
            </div>
            <div className="edit-meta muted">
              ({entry.position.join(", ")}) · chunk {entry.chunk.cx},{entry.chunk.cy},{entry.chunk.cz}
              {entry.version !== undefined && ` · v${entry.version}`}
            </div>
            {EXPLAINED.has(entry.state) && entry.reason && <div className="edit-reason">{entry.reason}</div>}
            {!EXPLAINED.has(entry.state) && entry.note && <div className="edit-note muted">{entry.note}</div>}
          </li>
        ))}
      </ol>
    </section>
  );
}
