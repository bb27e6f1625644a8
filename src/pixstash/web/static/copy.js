// Copy buttons: any <button data-copy-target="ID"> copies the value (or text) of #ID.
// Delegated from the document, so buttons added later (upload results) work too.

const FEEDBACK_MS = 2000;
let live = null;

function announce(message) {
  if (live === null) {
    live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    document.body.append(live);
  }
  live.textContent = "";
  // A fresh text node after clearing makes screen readers announce repeats too.
  window.requestAnimationFrame(() => {
    live.textContent = message;
  });
}

async function writeClipboard(text) {
  if (!navigator.clipboard || !window.isSecureContext) return false;
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function selectField(field) {
  if (typeof field.select === "function") {
    field.focus();
    field.select();
    return true;
  }
  const range = document.createRange();
  range.selectNodeContents(field);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return true;
}

function legacyCopy(field) {
  selectField(field);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

function feedback(button, copied) {
  const original = button.dataset.label || button.textContent;
  button.dataset.label = original;
  button.textContent = copied ? "Copied" : "Press Ctrl+C";
  button.classList.toggle("is-copied", copied);
  clearTimeout(Number(button.dataset.timer || 0));
  const timer = setTimeout(() => {
    button.textContent = original;
    button.classList.remove("is-copied");
  }, FEEDBACK_MS);
  button.dataset.timer = String(timer);
  announce(copied ? "Copied to the clipboard" : "Selected; press Ctrl+C to copy");
}

export async function copyFrom(field) {
  const text = "value" in field ? field.value : field.textContent;
  if (await writeClipboard(text)) return true;
  return legacyCopy(field);
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  if (!field) return;
  event.preventDefault();
  const copied = await copyFrom(field);
  if (!copied) selectField(field);
  feedback(button, copied);
});

// Focusing or clicking a read-only link field selects all of it, ready to copy by hand.
function selectReadOnly(event) {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.readOnly) field.select();
}
document.addEventListener("focusin", selectReadOnly);
document.addEventListener("click", selectReadOnly);
