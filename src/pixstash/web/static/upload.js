// Upload page: choose, drop or paste images, or paste a link (the server fetches it:
// POST /api/v1/images with JSON {"url"}). Each file is a direct upload: start it
// (POST /api/v1/uploads), POST its signed fields and the file to the answered url with
// XHR (a real progress bar; the url is the bucket with S3 storage, this app otherwise),
// then complete it, and show its share, direct and delete links.
import "./copy.js";

const MAX_PARALLEL = 3;

const form = document.getElementById("upload-form");
const fileInput = document.getElementById("file-input");
const dropZone = document.getElementById("drop-zone");
const titleInput = document.getElementById("title");
const visibilityInput = document.getElementById("visibility");
const expiresInput = document.getElementById("expires-in");
const list = document.getElementById("uploads");
const live = document.getElementById("upload-live");
const linkForm = document.getElementById("link-form");
const linkInput = document.getElementById("link-url");

const uploadsUrl = form.dataset.uploadsUrl || "/api/v1/uploads";
const maxMb = Number.parseFloat(form.dataset.maxUploadMb);
const maxBytes = Number.isFinite(maxMb) && maxMb > 0 ? maxMb * 1024 * 1024 : Infinity;

const queue = [];
let active = 0;
let sequence = 0;

document.documentElement.classList.add("js");

// --- small DOM helpers (never innerHTML: file names and titles are user data) ---

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function humanSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

function say(message) {
  live.textContent = message;
}

function copyField(id, label, value, extra = null) {
  return el(
    "div",
    { className: "copy-field" },
    el("label", { for: id, text: label }),
    el(
      "div",
      { className: "copy-row" },
      el("input", { id, className: "copy-input", type: "text", readonly: true, value }),
      el("button", {
        type: "button",
        className: "button button-copy",
        "data-copy-target": id,
        text: "Copy",
      }),
      extra,
    ),
  );
}

// --- one upload card per file ---

const SVG = "http://www.w3.org/2000/svg";

function placeholder() {
  // A neutral picture icon where the browser cannot preview the file.
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "32");
  svg.setAttribute("height", "32");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.6");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return el("div", { className: "upload-preview upload-preview-empty" }, svg);
}

function createItem(file) {
  sequence += 1;
  const id = `upload-${sequence}`;
  const name = file.name || "pasted image";
  let preview = placeholder();
  if (file.type.startsWith("image/")) {
    const img = el("img", { className: "upload-preview", alt: `Preview of ${name}` });
    img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
    img.src = URL.createObjectURL(file);
    preview = img;
  }
  const progress = el("progress", {
    className: "upload-progress",
    max: "100",
    value: "0",
    "aria-label": `Upload progress of ${name}`,
  });
  const status = el("p", { className: "upload-status", text: "Waiting…" });
  const body = el(
    "div",
    { className: "upload-body" },
    el(
      "div",
      { className: "upload-head" },
      el("span", { className: "upload-name", title: name, text: name }),
      el("span", { className: "upload-size", text: humanSize(file.size) }),
    ),
    progress,
    status,
  );
  const node = el("li", { id, className: "upload-item", "data-state": "queued" }, preview, body);
  list.prepend(node);
  return { id, file, name, node, body, progress, status };
}

function setState(item, state, message) {
  item.node.dataset.state = state;
  item.node.classList.toggle("is-done", state === "done");
  item.node.classList.toggle("is-error", state === "error");
  if (message !== undefined) item.status.textContent = message;
}

function fail(item, message) {
  setState(item, "error", message);
  say(`${item.name}: ${message}`);
}

function showLinks(item, image) {
  const links = image.links || {};
  const open = el("a", {
    className: "button button-ghost upload-open share-link",
    href: links.page,
    target: "_blank",
    rel: "noopener",
    text: "Open",
  });
  const box = el(
    "div",
    { className: "upload-links" },
    copyField(`${item.id}-page`, "Share link", links.page, open),
    copyField(`${item.id}-direct`, "Direct link", links.full),
  );
  if (links.delete) {
    box.append(copyField(`${item.id}-delete`, "Delete link", links.delete));
    box.append(
      el("p", {
        className: "delete-note",
        text: "The delete link is shown only once: save it if you may want to remove the image.",
      }),
    );
  }
  item.node.append(box);
}

function errorMessage(xhr) {
  const payload = xhr.response;
  const message = payload && payload.error && payload.error.message;
  if (message) return message;
  if (xhr.status === 413) return "This file is too large.";
  return `Upload failed (HTTP ${xhr.status || "error"}).`;
}

// The type declared when starting an upload, from the first bytes (what the server will
// check too); the browser's guess from the file name is the fallback.
const MAGIC = [
  ["image/jpeg", (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ["image/png", (b) => b[0] === 0x89 && ascii(b, 1, 4) === "PNG"],
  ["image/gif", (b) => ascii(b, 0, 4) === "GIF8"],
  ["image/webp", (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP"],
  ["image/avif", (b) => ascii(b, 4, 8) === "ftyp" && ["avif", "avis"].includes(ascii(b, 8, 12))],
  ["image/bmp", (b) => ascii(b, 0, 2) === "BM"],
  ["image/tiff", (b) => ["II*\0", "MM\0*"].includes(ascii(b, 0, 4))],
];

function ascii(bytes, start, end) {
  return String.fromCharCode(...bytes.subarray(start, end));
}

async function declaredType(file) {
  try {
    const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    const found = MAGIC.find(([, matches]) => matches(head));
    if (found) return found[0];
  } catch {
    // unreadable here: let the server decide
  }
  return file.type || "application/octet-stream";
}

class UploadError extends Error {}

async function api(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new UploadError("Network error: the upload did not reach the server. Try again.");
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const message = payload && payload.error && payload.error.message;
    throw new UploadError(message || `Upload failed (HTTP ${response.status}).`);
  }
  return payload;
}

// POST the signed fields, then the file, to the ticket's url: one code path whether the
// url is the bucket (presigned POST) or this app.
function sendFile(item, ticket) {
  return new Promise((resolve, reject) => {
    const data = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) data.append(name, value);
    data.append("file", item.file, item.name);

    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method || "POST", ticket.url);
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");

    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.min(100, Math.round((event.loaded / event.total) * 100));
      item.progress.value = percent;
      setState(item, "uploading", `Uploading… ${percent}%`);
    });
    xhr.upload.addEventListener("load", () => {
      item.progress.value = item.progress.max;
      setState(item, "processing", "Processing…");
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new UploadError(errorMessage(xhr)));
    });
    xhr.addEventListener("error", () => {
      reject(new UploadError("Network error: the upload did not reach the server. Try again."));
    });
    xhr.addEventListener("abort", () => reject(new UploadError("Upload cancelled.")));

    setState(item, "uploading", "Uploading… 0%");
    xhr.send(data);
  });
}

// The options chosen on the page when a file or link was added (empty: the defaults).
function options() {
  return {
    visibility: visibilityInput ? visibilityInput.value || null : null,
    expires_in: expiresInput ? expiresInput.value || null : null,
  };
}

async function send(item, title, chosen) {
  try {
    setState(item, "uploading", "Starting…");
    const ticket = await api(uploadsUrl, {
      filename: item.name,
      content_type: await declaredType(item.file),
      size: item.file.size,
      title: title || null,
      ...chosen,
    });
    await sendFile(item, ticket);
    const image = await api(`${uploadsUrl}/${encodeURIComponent(ticket.upload_id)}/complete`);
    item.progress.value = item.progress.max;
    setState(item, "done", "Uploaded");
    showLinks(item, image);
    say(`${item.name} uploaded. Share link: ${image.links.page}`);
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    fail(item, error.message);
  }
}

// --- upload by link: the server fetches it, so no progress but "Fetching…" ---

function looksLikeLink(text) {
  return /^https?:\/\/\S+$/i.test(text.trim());
}

async function sendLink(url, title) {
  const item = createItem({ name: url, type: "", size: Number.NaN });
  item.progress.removeAttribute("value"); // indeterminate
  setState(item, "processing", "Fetching…");
  try {
    const image = await api(linkForm.getAttribute("action"), {
      url,
      title: title || null,
      ...options(),
    });
    item.progress.value = item.progress.max;
    setState(item, "done", "Uploaded");
    showLinks(item, image);
    say(`${item.name} uploaded. Share link: ${image.links.page}`);
  } catch (error) {
    if (!(error instanceof UploadError)) throw error;
    fail(item, error.message);
  }
}

function addLink(text) {
  const url = text.trim();
  if (!url) return;
  say("Fetching the link…");
  sendLink(url, titleInput.value.trim());
}

function pump() {
  while (active < MAX_PARALLEL && queue.length > 0) {
    const { item, title, chosen } = queue.shift();
    active += 1;
    send(item, title, chosen).finally(() => {
      active -= 1;
      pump();
    });
  }
}

function addFiles(fileList) {
  const files = Array.from(fileList || []).filter(Boolean);
  if (files.length === 0) return;
  const title = titleInput.value.trim();
  const chosen = options();
  let accepted = 0;
  for (const file of files) {
    const item = createItem(file);
    // The server checks the content; the size is checked here only to fail fast.
    if (file.size > maxBytes) {
      fail(item, `This file is ${humanSize(file.size)}; the limit is ${form.dataset.maxUploadMb} MB.`);
    } else {
      queue.push({ item, title, chosen });
      accepted += 1;
    }
  }
  if (accepted > 0) say(`Uploading ${accepted} file${accepted === 1 ? "" : "s"}…`);
  pump();
}

// --- inputs: picker, form submit, drag and drop, paste ---

fileInput.addEventListener("change", () => {
  const files = Array.from(fileInput.files || []);
  fileInput.value = "";
  addFiles(files);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  addFiles(fileInput.files);
  fileInput.value = "";
});

linkForm.addEventListener("submit", (event) => {
  event.preventDefault();
  addLink(linkInput.value);
  linkInput.value = "";
});

function isTextField(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA"].includes(target.tagName))
  );
}

function carriesFiles(event) {
  return Boolean(event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files"));
}

let dragDepth = 0;
window.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth += 1;
  dropZone.classList.add("is-dragover");
});
window.addEventListener("dragleave", (event) => {
  if (!carriesFiles(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) dropZone.classList.remove("is-dragover");
});
window.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
window.addEventListener("drop", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  dropZone.classList.remove("is-dragover");
  addFiles(event.dataTransfer.files);
});

document.addEventListener("paste", (event) => {
  const clipboard = event.clipboardData;
  if (!clipboard) return;
  let files = Array.from(clipboard.files || []);
  if (files.length === 0 && clipboard.items) {
    files = Array.from(clipboard.items)
      .filter((entry) => entry.kind === "file")
      .map((entry) => entry.getAsFile())
      .filter(Boolean);
  }
  if (files.length === 0) {
    // Text pasted into a field stays there; a link pasted anywhere else is uploaded.
    const text = clipboard.getData("text/plain") || "";
    if (isTextField(event.target) || !looksLikeLink(text)) return;
    event.preventDefault();
    addLink(text);
    return;
  }
  event.preventDefault();
  addFiles(files);
});
