// The platelab page: send one photo to v1/read, then draw the plates, list them and show the JSON.
// URLs are relative so the page also works when a proxy serves it under a path prefix.
"use strict";

const KEY_STORAGE = "platelab-api-key";
const OUTLINE = "#00e676";

const elements = {
  input: document.getElementById("photo"),
  dropZone: document.getElementById("drop-zone"),
  keyForm: document.getElementById("key-form"),
  keyInput: document.getElementById("key-input"),
  status: document.getElementById("status"),
  results: document.getElementById("results"),
  canvas: document.getElementById("preview"),
  tableBody: document.querySelector("#plates tbody"),
  json: document.getElementById("json"),
  copy: document.getElementById("copy-json"),
};

// The photo waiting for an API key, sent again once the user gives one.
let pendingPhoto = null;
// Each photo sent is numbered; an answer to any but the latest is dropped, so a slow one never shows over a newer.
let latestRequest = 0;

function showStatus(message, isError = false) {
  elements.status.textContent = message;
  elements.status.classList.toggle("error", isError);
}

// The key lives in memory and, where the browser allows, in sessionStorage so a reload keeps it.
let apiKey = loadKey();

function loadKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function saveKey(key) {
  apiKey = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key still lasts until the page is closed
  }
}

function authHeaders() {
  return apiKey ? { "X-API-Key": apiKey } : {};
}

async function readPhoto(file) {
  const request = ++latestRequest;
  elements.results.hidden = true; // the last photo's results are not this one's
  showStatus(`Reading ${file.name || "photo"}…`);
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  let response;
  try {
    response = await fetch("v1/read", { method: "POST", body: form, headers: authHeaders() });
  } catch (error) {
    if (request === latestRequest) showStatus(`Could not reach the server: ${error.message}`, true);
    return;
  }
  const data = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  if (request !== latestRequest) return;
  if (response.status === 401) {
    askForKey(file);
    return;
  }
  if (!response.ok) {
    showStatus(data.error || data.detail || `HTTP ${response.status}`, true);
    return;
  }
  await showResult(file, data);
}

function askForKey(file) {
  pendingPhoto = file;
  saveKey(null);
  elements.keyForm.hidden = false;
  elements.keyInput.focus();
  showStatus("This server needs an API key.", true);
}

async function showResult(file, data) {
  const plates = data.plates || [];
  showStatus(plates.length ? `${plates.length} plate(s) found.` : "No plate found.");
  fillTable(plates);
  elements.json.textContent = JSON.stringify(data, null, 2);
  elements.results.hidden = false;
  await drawPhoto(file, plates);
}

function fillTable(plates) {
  elements.tableBody.replaceChildren(
    ...plates.map((plate, index) => {
      const row = document.createElement("tr");
      const cells = [String(index + 1), plate.text, percent(plate.confidence), plate.box.join(", "),
        plate.wanted ?? ""];
      cells.forEach((value, column) => {
        const cell = document.createElement("td");
        cell.textContent = value;
        if (column === 1 || (column === 4 && value)) cell.className = "plate";
        row.append(cell);
      });
      return row;
    }),
  );
}

function percent(confidence) {
  return `${(100 * confidence).toFixed(1)} %`;
}

async function drawPhoto(file, plates) {
  const url = URL.createObjectURL(file);
  try {
    const image = new Image();
    image.src = url;
    await image.decode(); // browsers apply EXIF orientation, as the server does, so the boxes line up
    const canvas = elements.canvas;
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const scale = Math.max(1, Math.max(canvas.width, canvas.height) / 800);
    plates.forEach((plate) => outlinePlate(context, plate, scale));
    canvas.hidden = false;
  } catch {
    elements.canvas.hidden = true; // a format the browser cannot show (e.g. TIFF): the table still has it all
  } finally {
    URL.revokeObjectURL(url);
  }
}

function outlinePlate(context, plate, scale) {
  context.lineWidth = 3 * scale;
  context.strokeStyle = OUTLINE;
  context.beginPath();
  plate.quad.forEach(([x, y], index) => (index ? context.lineTo(x, y) : context.moveTo(x, y)));
  context.closePath();
  context.stroke();

  const label = `${plate.text} ${percent(plate.confidence)}`;
  context.font = `bold ${Math.round(16 * scale)}px system-ui, sans-serif`;
  const width = context.measureText(label).width + 8 * scale;
  const height = 22 * scale;
  const left = Math.min(...plate.quad.map(([x]) => x));
  const top = Math.min(...plate.quad.map(([, y]) => y));
  const labelTop = top - height >= 0 ? top - height : top + plate.box[3];
  context.fillStyle = OUTLINE;
  context.fillRect(left, labelTop, width, height);
  context.fillStyle = "#000";
  context.textBaseline = "middle";
  context.fillText(label, left + 4 * scale, labelTop + height / 2);
}

async function copyJson() {
  const text = elements.json.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    copyWithSelection(text); // the clipboard API needs https or localhost
  }
  elements.copy.textContent = "Copied";
  setTimeout(() => (elements.copy.textContent = "Copy"), 1500);
}

function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function firstImage(files) {
  return Array.from(files || []).find((file) => file.type.startsWith("image/")) || null;
}

elements.input.addEventListener("change", () => {
  const file = elements.input.files[0];
  if (file) readPhoto(file);
});

elements.dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  elements.dropZone.classList.add("dragging");
});
elements.dropZone.addEventListener("dragleave", () => elements.dropZone.classList.remove("dragging"));
elements.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  elements.dropZone.classList.remove("dragging");
  const file = firstImage(event.dataTransfer.files);
  if (file) readPhoto(file);
  else showStatus("That is not an image file.", true);
});

document.addEventListener("paste", (event) => {
  const file = firstImage(event.clipboardData && event.clipboardData.files);
  if (file) readPhoto(file);
});

elements.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  saveKey(elements.keyInput.value);
  elements.keyForm.hidden = true;
  const photo = pendingPhoto;
  pendingPhoto = null;
  if (photo) readPhoto(photo);
});

elements.copy.addEventListener("click", copyJson);
