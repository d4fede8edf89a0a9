// colorbatch studio: the batch as a gallery, and an editor that paints dabs on a transparent layer over
// the gray photo; every finished stroke asks the server for a preview; Save writes the hint file.
"use strict";
const $ = (id) => document.getElementById(id);
const api = (path, options = {}) => fetch(path, { credentials: "same-origin", ...options });
const state = { photo: null, undo: [], redo: [], painting: false, erasing: false, showGray: false, previewUrl: null,
                pending: null, version: 0 };

async function loadGallery() {
  const filter = $("state-filter").value;
  const query = new URLSearchParams({ limit: "1000" });
  if (filter) query.set("state", filter);
  const listing = await (await api(`api/photos?${query}`)).json();
  $("summary").textContent = `${listing.total} photos and clips`;
  const gallery = $("gallery");
  gallery.replaceChildren();
  for (const photo of listing.photos) {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.tabIndex = 0;
    tile.dataset.id = photo.id;
    const image = document.createElement("img");
    image.loading = "lazy";  // thumbnails load as they scroll into view
    image.alt = photo.path;
    image.src = `api/photos/${photo.id}/gray?max_size=160`;
    const label = document.createElement("div");
    label.className = "path";
    label.textContent = photo.path;
    const badge = document.createElement("span");
    badge.className = `state ${photo.state.replace(" ", "-")}`;
    badge.textContent = photo.state;
    badge.title = photo.reason || "";
    tile.append(image, label, badge);
    if (photo.kind === "image") {
      tile.addEventListener("click", () => openPhoto(photo));
      tile.addEventListener("keydown", (event) => { if (event.key === "Enter") openPhoto(photo); });
    }
    gallery.append(tile);
  }
}

async function openPhoto(photo) {
  state.photo = photo;
  state.undo = [];
  state.redo = [];
  $("photo-path").textContent = photo.path;
  $("gallery").hidden = true;
  $("editor").hidden = false;
  const gray = $("gray");
  await new Promise((resolve) => { gray.onload = resolve; gray.src = `api/photos/${photo.id}/gray?max_size=1024`; });
  const layer = $("layer");
  layer.width = gray.naturalWidth;
  layer.height = gray.naturalHeight;
  layer.style.width = `${gray.clientWidth}px`;
  layer.style.height = `${gray.clientHeight}px`;
  const context = layer.getContext("2d");
  context.clearRect(0, 0, layer.width, layer.height);
  const draft = localStorage.getItem(draftKey(photo.id));  // painted, not saved, when the tab closed
  const saved = draft ? null : await api(`api/photos/${photo.id}/hints`);  // else the hint file, editable again
  const source = draft ? await (await fetch(draft)).blob() : saved.ok ? await saved.blob() : null;
  if (source) {
    const bitmap = await createImageBitmap(source);
    context.imageSmoothingEnabled = false;
    context.drawImage(bitmap, 0, 0, layer.width, layer.height);
  }
  await refreshPreview();
  if (draft) $("status").textContent = "an unsaved draft, restored";
}

function layerPoint(event) {
  const layer = $("layer");
  const box = layer.getBoundingClientRect();
  return [(event.clientX - box.left) * layer.width / box.width, (event.clientY - box.top) * layer.height / box.height];
}

function dab(event) {
  // a round stroke from the last point, so that a fast pointer still paints a continuous line
  const context = $("layer").getContext("2d");
  const [x, y] = layerPoint(event);
  const [fromX, fromY] = state.last || [x, y];
  context.globalCompositeOperation = state.erasing ? "destination-out" : "source-over";
  context.strokeStyle = $("colour").value;
  context.lineWidth = Number($("brush").value);
  context.lineCap = "round";
  context.beginPath();
  context.moveTo(fromX, fromY);
  context.lineTo(x, y);
  context.stroke();
  state.last = [x, y];
}

function remember() {
  const layer = $("layer");
  state.undo.push(layer.getContext("2d").getImageData(0, 0, layer.width, layer.height));
  state.redo = [];
}

function restore(from, to) {
  const layer = $("layer");
  const context = layer.getContext("2d");
  if (!from.length) return;
  to.push(context.getImageData(0, 0, layer.width, layer.height));
  context.putImageData(from.pop(), 0, 0);
  refreshPreview();
}

function draftKey(photo) {
  return `colorbatch-studio-draft:${location.host}:${photo}`;
}

function keepDraft() {
  try {
    localStorage.setItem(draftKey(state.photo.id), $("layer").toDataURL("image/png"));
  } catch (error) {  // storage full: the layer stays on the page, only the draft is not kept
    $("status").textContent = "the draft could not be kept in this browser (storage full)";
  }
}

function layerBlob() {
  return new Promise((resolve) => $("layer").toBlob(resolve, "image/png"));
}

async function refreshPreview() {
  const version = ++state.version;  // a newer stroke's preview wins over a slower older one
  if (state.undo.length) keepDraft();  // something was painted since the photo was opened
  const query = new URLSearchParams({ max_size: "1024" });
  if ($("vividness").dataset.touched) query.set("vividness", $("vividness").value);
  $("status").textContent = "colouring…";
  const response = await api(`api/photos/${state.photo.id}/preview?${query}`, { method: "POST", body: await layerBlob() });
  if (version !== state.version) return;
  if (!response.ok) {
    $("status").textContent = (await response.json()).error;
    return;
  }
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = URL.createObjectURL(await response.blob());
  $("preview").src = state.previewUrl;
  $("preview").dataset.version = String(version);
  $("status").textContent = "";
  showBeforeAfter();
}

function showBeforeAfter() {
  $("preview").style.filter = state.showGray ? "grayscale(1)" : "";
}

async function save() {
  $("status").textContent = "saving…";
  const response = await api(`api/photos/${state.photo.id}/hints`, { method: "PUT", body: await layerBlob() });
  const answer = await response.json();
  $("status").textContent = response.ok ? `saved: ${answer.state}` : answer.error;
  if (response.ok) {
    state.photo = answer;
    localStorage.removeItem(draftKey(answer.id));
  }
}

function back() {
  $("editor").hidden = true;
  $("gallery").hidden = false;
  loadGallery();
}

function wire() {
  const layer = $("layer");
  layer.addEventListener("pointerdown", (event) => {
    remember();
    state.painting = true;
    state.last = null;
    layer.setPointerCapture(event.pointerId);
    dab(event);
  });
  layer.addEventListener("pointermove", (event) => { if (state.painting) dab(event); });
  layer.addEventListener("pointerup", () => {
    if (!state.painting) return;
    state.painting = false;
    refreshPreview();
  });
  $("eraser").addEventListener("click", () => {
    state.erasing = !state.erasing;
    $("eraser").setAttribute("aria-pressed", String(state.erasing));
  });
  $("undo").addEventListener("click", () => restore(state.undo, state.redo));
  $("redo").addEventListener("click", () => restore(state.redo, state.undo));
  $("clear").addEventListener("click", () => {
    remember();
    layer.getContext("2d").clearRect(0, 0, layer.width, layer.height);
    refreshPreview();
  });
  $("vividness").addEventListener("change", () => { $("vividness").dataset.touched = "1"; refreshPreview(); });
  $("before-after").addEventListener("click", () => { state.showGray = !state.showGray; showBeforeAfter(); });
  $("save").addEventListener("click", save);
  $("back").addEventListener("click", back);
  $("state-filter").addEventListener("change", loadGallery);
  document.addEventListener("keydown", (event) => {
    if ($("editor").hidden) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      if (event.shiftKey) restore(state.redo, state.undo); else restore(state.undo, state.redo);
    } else if ((event.ctrlKey || event.metaKey) && key === "s") {
      event.preventDefault();
      save();
    } else if (key === "e") {
      $("eraser").click();
    } else if (key === " ") {
      event.preventDefault();
      $("before-after").click();
    } else if (key === "escape") {
      back();
    }
  });
}

wire();
loadGallery();
