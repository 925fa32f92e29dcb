// views/describe.js - system messages (docs/groups.md "System messages",
// the call record of docs/API.md "Calls") as one line a person reads.  The
// body is JSON the server wrote; anything unexpected shows as a plain note.
import * as store from "../store.js";
import { clock } from "./call.js";

const names = (ids) => (ids || []).map(store.userName).join(", ");

export function parseSystem(m) {
  try {
    const b = JSON.parse(m.body);
    return b && typeof b === "object" ? b : null;
  } catch (_) {
    return null;
  }
}

export function systemText(m) {
  const b = parseSystem(m);
  if (m.type === "call") return callText(b || {}, m);
  if (!b) return m.body || "(notice)";
  const actor = store.userName(b.actor_id || m.sender_id);
  switch (b.event) {
    case "created": return actor + " created the group " + (b.name ? "“" + b.name + "”" : "");
    case "renamed": return actor + " renamed the group to “" + b.name + "”";
    case "added": return actor + " added " + names(b.user_ids);
    case "removed": return actor + " removed " + store.userName(b.user_id);
    case "left": return store.userName(b.user_id) + " left";
    case "role": return actor + " made " + store.userName(b.user_id) + " " + (b.role === "admin" ? "an admin" : "a member");
    case "owner": return actor + " handed the group to " + store.userName(b.user_id);
    case "call": return callText(b, m);
    default: return "(" + (b.event || "notice") + ")";
  }
}

const MISSED = { rejected: "declined", canceled: "canceled", timeout: "no answer", busy: "busy",
                 unavailable: "not reachable", gone: "connection lost", failed: "failed" };

// The call record: media, who called, answered or not, duration (seconds).
export function callText(b, m) {
  const caller = b.caller_id || b.from || b.actor_id || m.sender_id;
  const kind = b.media === "audio" ? "Audio call" : "Video call";
  const by = caller === store.state.me.id ? "you" : store.userName(caller);
  const dur = Number(b.duration_s !== undefined ? b.duration_s : b.duration) || 0;
  if (b.answered) return kind + " from " + by + ", " + clock(dur);
  const why = MISSED[b.reason];
  return "Missed " + kind.toLowerCase() + " from " + by + (why ? " (" + why + ")" : "");
}

export function isCall(m) {
  if (m.type === "call") return true;
  const b = m.type === "system" ? parseSystem(m) : null;
  return !!b && b.event === "call";
}
