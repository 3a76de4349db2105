/** The edit list's words for an edit an anchored snapshot dropped: overwritten by whom and in which version, or rolled back. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EDIT_STATE_LABELS, type EditEntry, EditList, MAX_ENTRIES } from "../../app/src/edits/editList.ts";

const edit = (list: EditList, own: boolean, wallMs: number, author?: string): EditEntry =>
  list.add({
    mode: "place",
    position: [1, 2, 3],
    block: 1,
    chunk: { cx: 0, cy: 0, cz: 0 },
    chunkId: 0n,
    index: 42,
    hlc: { wallMs, logical: 0 },
    own,
    author,
  });

describe("EditList.lost", () => {
  it("an edit a later one replaced, in the snapshot's reach, was overwritten by its author in that version", () => {
    const list = new EditList();
    const mine = edit(list, true, 1000);
    edit(list, false, 2000, "ada");
    assert.deepEqual(list.lost(mine, 8, { wallMs: 2500, logical: 0 }), {
      state: "overwritten",
      version: 8n,
      reason: "overwritten by ada in v8",
      note: undefined,
    });
    const theirs = edit(list, false, 3000, "bob");
    edit(list, true, 4000);
    assert.equal(list.lost(theirs, 9, { wallMs: 4000, logical: 0 }).reason, "overwritten by you in v9");
  });

  it("an edit with no later one the snapshot holds was rolled back by that version", () => {
    const list = new EditList();
    const theirs = edit(list, false, 1000, "ada");
    // A later edit above the watermark is not in the snapshot, and a bounced one never counted.
    edit(list, true, 5000);
    const bounced = edit(list, false, 1500, "bob");
    list.update(bounced.id, { state: "bounced" });
    assert.deepEqual(list.lost(theirs, 7, { wallMs: 2000, logical: 0 }), {
      state: "rolled-back",
      version: 7n,
      reason: "rolled back: v7 does not hold it",
      note: undefined,
    });
  });

  it("every state reads as words, with no camelCase", () => {
    for (const label of Object.values(EDIT_STATE_LABELS)) assert.match(label, /^[a-z ]+$/);
  });

  it("an edit that reaches a final state says when", () => {
    const list = new EditList();
    const entry = edit(list, true, 1000);
    list.update(entry.id, { state: "anchoring" });
    assert.equal(list.entries[0]?.endedAt, undefined);
    list.update(entry.id, { state: "failed", reason: "x" });
    assert.equal(typeof list.entries[0]?.endedAt, "number");
  });

  it("keeps the newest entries, and the player's own edits still on their way past that bound", () => {
    const list = new EditList();
    const waiting = edit(list, true, 1);
    const anchored = edit(list, true, 2);
    list.update(anchored.id, { state: "anchored" });
    for (let n = 0; n < MAX_ENTRIES; n++) edit(list, false, 10 + n, "ada");
    assert.equal(list.entries.length, MAX_ENTRIES);
    assert.equal(list.entries[0]?.id, waiting.id, "the own open edit is kept, oldest first");
    assert.ok(!list.entries.some((e) => e.id === anchored.id), "an own edit that ended goes like any other");
    // The queue's later word on it still lands.
    list.update(waiting.id, { state: "anchored" });
    assert.equal(list.entries[0]?.state, "anchored");
    edit(list, false, 999, "ada");
    assert.ok(!list.entries.some((e) => e.id === waiting.id), "once ended, it goes in turn");
  });
});
