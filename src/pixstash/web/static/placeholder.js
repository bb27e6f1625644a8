// Share page: until the image has loaded, its box (sized by the width and height
// attributes) shows the dominant colour and the blurred placeholder, from data- attributes.
// The CSP forbids style attributes in markup, not CSSOM properties set from a script.

const DATA_PNG = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

function settle(image) {
  image.classList.remove("is-loading");
  image.style.removeProperty("background-color");
  image.style.removeProperty("background-image");
}

for (const image of document.querySelectorAll("img[data-colour], img[data-placeholder]")) {
  if (image.complete) continue; // already loaded (from the cache) or failed: nothing to cover
  const { colour, placeholder } = image.dataset;
  if (colour) image.style.backgroundColor = colour;
  if (placeholder && DATA_PNG.test(placeholder)) {
    image.style.backgroundImage = `url("${placeholder}")`;
  }
  image.classList.add("is-loading");
  // An error settles it too: alt text reads better without a blur behind it.
  image.addEventListener("load", () => settle(image), { once: true });
  image.addEventListener("error", () => settle(image), { once: true });
}

// Animations play as MP4; if the video cannot be played, show the GIF instead.
for (const video of document.querySelectorAll("video[data-fallback]")) {
  const source = video.querySelector("source");
  const fallBack = () => {
    const image = video.querySelector("img");
    if (image && video.isConnected) video.replaceWith(image);
  };
  if (source) source.addEventListener("error", fallBack, { once: true });
  video.addEventListener("error", fallBack, { once: true });
}
