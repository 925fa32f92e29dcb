// views/files.js - images and files in messages.  Downloads need the bearer
// token, which an <img src> or <a href> cannot carry, so the bytes are
// fetched and shown as blob: URLs (the CSP allows img-src blob:).
import { h } from "../dom.js";
import * as api from "../api.js";
import * as client from "../client.js";

const blobs = new Map(); // "id" or "id/t" -> Promise of an object URL
const infos = new Map(); // id -> Promise of {name, size, mime}

function blobURL(id, thumb) {
  const key = id + (thumb ? "/t" : "");
  if (!blobs.has(key)) blobs.set(key, api.fileBlob(id, thumb).then((b) => URL.createObjectURL(b)));
  const p = blobs.get(key);
  p.catch(() => blobs.delete(key));
  return p;
}

// The thumbnail; a click opens the full image.
export function imageThumb(id) {
  const img = h("img.thumb", { alt: "image", loading: "lazy", dataset: { file: id } });
  blobURL(id, true).then((u) => { img.src = u; }, () => { img.alt = "image unavailable"; });
  img.addEventListener("click", () => openFull(id));
  return img;
}

function openFull(id) {
  const img = h("img.full", { alt: "full image" });
  const box = h("div.lightbox", { role: "dialog", onclick: () => box.remove() }, img);
  document.body.append(box);
  blobURL(id, false).then((u) => { img.src = u; }, (e) => { box.remove(); client.report(e); });
}

export function sizeLabel(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
  return (n / 1048576).toFixed(1) + " MB";
}

// Any other file: its name and size, and a link that downloads it.
export function fileLink(id) {
  const label = h("span.file-name", "File");
  const size = h("small.file-size");
  const a = h("a.file", { href: "#", dataset: { file: id }, title: "Download" }, "⬇ ", label, " ", size);
  if (!infos.has(id)) infos.set(id, api.fileInfo(id));
  const info = infos.get(id);
  info.then((i) => { label.textContent = i.name; size.textContent = sizeLabel(i.size); },
            () => { infos.delete(id); label.textContent = "File (unavailable)"; });
  a.addEventListener("click", async (ev) => {
    ev.preventDefault();
    try {
      const [u, i] = await Promise.all([blobURL(id, false), info]);
      const link = h("a", { href: u, download: i.name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (e) { client.report(e); }
  });
  return a;
}
